"""A local GitHub REST server for tests (pytest-httpserver) that speaks GitHub's wire format.

- Every JSON request body of an operation in GitHub's REST description subset
  (`tests/fixtures/github/rest/request-bodies.deref.json`) is validated with the OAS 3.0 validator;
  a body GitHub would reject is answered 422 and recorded in `violations` (tests assert it stays empty).
- Responses start from the description's own examples and carry GitHub's headers
  (`x-ratelimit-*`, `Link` pagination).
- App JWTs are verified (RS256, issuer = App id) and installation tokens minted per installation.
- `fail_next(...)` injects GitHub's failure answers (403 secondary rate limit with Retry-After,
  403 primary limit with `x-ratelimit-remaining: 0`, 502, 422) for the next matching calls.
- `calls` records every request (method, path, query, JSON body, installation).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from openapi_schema_validator import OAS30Validator
from werkzeug import Request, Response

REST = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "rest"
SPEC = json.loads((REST / "openapi-subset.json").read_text())
BODIES = json.loads((REST / "request-bodies.deref.json").read_text())


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")


# "POST /repos/{owner}/..." -> (method, regex, validator)
BODY_VALIDATORS = []
for _key, _op in BODIES.items():
    _method, _template = _key.split(" ", 1)
    # checks/create's inline discriminator has no mapping; validators resolve it as a schema name.
    _schema = copy.deepcopy(_op["schema"])
    _schema.pop("discriminator", None)
    BODY_VALIDATORS.append((_method, _template, _template_regex(_template), OAS30Validator(_schema)))


def spec_example(path: str, method: str, status: str, name: str = "default") -> Any:
    """A response example of GitHub's description (refs into components/examples resolved)."""
    content = SPEC["paths"][path][method]["responses"][status]["content"]
    media = content.get("application/json") or next(iter(content.values()))
    example = media["examples"][name]
    if "$ref" in example:
        example = SPEC["components"]["examples"][example["$ref"].rsplit("/", 1)[-1]]
    return copy.deepcopy(example["value"])


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    installation_id: int | None
    headers: dict[str, str]


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int
    installation_id: int | None = None


@dataclass
class RepoState:
    full_name: str
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issue_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)
    diffs: dict[str, str] = field(default_factory=dict)


class FakeGitHub:
    def __init__(self, httpserver: Any, *, app_id: str, public_key_pem: str) -> None:
        self.server = httpserver
        self.app_id = app_id
        self.public_key_pem = public_key_pem
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.repos: dict[str, RepoState] = {}
        self.failures: list[Failure] = []
        self.tokens: dict[str, int] = {}
        self.installations: dict[int, dict[str, Any]] = {}
        self.installation_repos: dict[int, list[dict[str, Any]]] = {}
        self.rate_remaining: dict[int | None, int] = {}
        self.rate_reset: dict[int | None, int] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    # --- state helpers -------------------------------------------------------------------------

    def repo(self, full_name: str) -> RepoState:
        return self.repos.setdefault(full_name, RepoState(full_name))

    def add_pull(self, full_name: str, *, number: int, head_sha: str, base_sha: str = "b" * 40,
                 author: str = "octocat", files: list[dict[str, Any]] | None = None, draft: bool = False) -> dict[str, Any]:
        pr = spec_example("/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200")
        pr.update(number=number, draft=draft, state="open")
        pr["head"]["sha"] = head_sha
        pr["base"]["sha"] = base_sha
        pr["user"]["login"] = author
        pr["base"]["repo"]["full_name"] = full_name
        pr["head"]["repo"]["full_name"] = full_name
        state = self.repo(full_name)
        state.pulls[number] = pr
        state.files[number] = files if files is not None else [self.file_entry("src/app.py", "@@ -1,2 +1,3 @@\n a\n+b\n c")]
        return pr

    def file_entry(self, filename: str, patch: str | None, status: str = "modified") -> dict[str, Any]:
        entry = spec_example("/repos/{owner}/{repo}/pulls/{pull_number}/files", "get", "200")[0]
        additions = sum(1 for line in (patch or "").splitlines() if line.startswith("+"))
        entry.update(filename=filename, status=status, additions=additions, deletions=0, changes=additions, patch=patch)
        if patch is None:
            entry.pop("patch", None)
        return entry

    def fail_next(self, method: str, path_regex: str, *, status: int, message: str = "", headers: dict[str, str] | None = None,
                  times: int = 1, installation_id: int | None = None) -> None:
        with self._lock:
            self.failures.append(
                Failure(method, re.compile(path_regex), status, {"message": message, "documentation_url": "https://docs.github.com/rest"},
                        headers or {}, times, installation_id)
            )

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    # --- HTTP -------------------------------------------------------------------------------------

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None, installation_id: int | None = None) -> Response:
        response = Response(json.dumps(data), status=status, content_type="application/json; charset=utf-8")
        remaining = self.rate_remaining.get(installation_id, 4999)
        response.headers["x-ratelimit-limit"] = "5000"
        response.headers["x-ratelimit-remaining"] = str(remaining)
        response.headers["x-ratelimit-reset"] = str(self.rate_reset.get(installation_id, int(time.time()) + 3600))
        response.headers["x-ratelimit-resource"] = "core"
        response.headers["x-github-request-id"] = f"FAKE:{next(self._ids)}"
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _authenticate(self, request: Request) -> tuple[str, int | None] | Response:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if request.path.startswith("/app"):
            try:
                claims = jwt.decode(credential, self.public_key_pem, algorithms=["RS256"], options={"verify_aud": False})
            except jwt.PyJWTError as exc:
                return self._json({"message": f"A JSON web token could not be decoded ({exc})"}, 401)
            if str(claims.get("iss")) != self.app_id or claims["exp"] - claims["iat"] > 600:
                return self._json({"message": "'Issuer' claim ('iss') must be an Integer"}, 401)
            return "app", None
        if scheme.lower() not in ("token", "bearer") or credential not in self.tokens:
            return self._json({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, 401)
        return "installation", self.tokens[credential]

    def _validate(self, method: str, path: str, body: Any) -> str | None:
        for m, template, regex, validator in BODY_VALIDATORS:
            if m == method and regex.match(path):
                errors = sorted(validator.iter_errors(body if body is not None else {}), key=lambda e: list(e.path))
                if errors:
                    return f"{method} {template}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3])
                return None
        return None

    def handle(self, request: Request) -> Response:
        body = None
        raw = request.get_data()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._json({"message": "Problems parsing JSON"}, 400)
        auth = self._authenticate(request)
        if isinstance(auth, Response):
            self.calls.append(Call(request.method, request.path, dict(request.args), body, None, dict(request.headers)))
            return auth
        _, installation_id = auth
        path = request.path
        with self._lock:
            self.calls.append(Call(request.method, path, dict(request.args), body, installation_id, dict(request.headers)))
            for failure in self.failures:
                if failure.times > 0 and failure.method == request.method and failure.pattern.search(path) and (
                    failure.installation_id is None or failure.installation_id == installation_id
                ):
                    failure.times -= 1
                    headers = dict(failure.headers)
                    response = self._json(failure.body, failure.status, installation_id=installation_id)
                    for key, value in headers.items():
                        response.headers[key] = value
                    return response
        violation = self._validate(request.method, path, body)
        if violation:
            self.violations.append(violation)
            return self._json({"message": "Invalid request.", "errors": [violation]}, 422)
        if installation_id is not None and self.rate_remaining.get(installation_id) is not None:
            reset = self.rate_reset.get(installation_id, 0)
            if self.rate_remaining[installation_id] <= 0 and reset > time.time():
                return self._json(
                    {"message": f"API rate limit exceeded for installation ID {installation_id}.",
                     "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                    403, installation_id=installation_id,
                )
            if self.rate_remaining[installation_id] <= 0:  # the window reset
                self.rate_remaining[installation_id] = 5000
                self.rate_reset[installation_id] = int(time.time()) + 3600
            self.rate_remaining[installation_id] -= 1
        return self.route(request, path, body, installation_id)

    def route(self, request: Request, path: str, body: Any, installation_id: int | None) -> Response:
        method = request.method
        m = re.match(r"^/app/installations/(\d+)/access_tokens$", path)
        if m and method == "POST":
            token = f"ghs_fake{next(self._ids)}"
            self.tokens[token] = int(m.group(1))
            data = spec_example("/app/installations/{installation_id}/access_tokens", "post", "201")
            data.update(token=token, expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)))
            return self._json(data, 201)
        m = re.match(r"^/app/installations/(\d+)$", path)
        if m and method == "GET":
            data = self.installations.get(int(m.group(1)))
            return self._json(data) if data else self._json({"message": "Not Found"}, 404)
        if path == "/app/installations" and method == "GET":
            return self._json(list(self.installations.values()))
        if path == "/installation/repositories" and method == "GET":
            repos = self.installation_repos.get(installation_id or 0, [])
            return self._json({"total_count": len(repos), "repositories": repos}, installation_id=installation_id)

        m = re.match(r"^/repos/([^/]+/[^/]+)(/.*)$", path)
        if not m:
            return self._json({"message": "Not Found"}, 404)
        state = self.repos.get(m.group(1))
        if state is None:
            return self._json({"message": "Not Found"}, 404, installation_id=installation_id)
        rest = m.group(2)
        ok = lambda data, status=200, headers=None: self._json(data, status, headers, installation_id)  # noqa: E731

        if (m := re.match(r"^/pulls/(\d+)$", rest)) and method == "GET":
            pr = state.pulls.get(int(m.group(1)))
            return ok(pr) if pr else ok({"message": "Not Found"}, 404)
        if (m := re.match(r"^/pulls/(\d+)/files$", rest)) and method == "GET":
            return self._page(state.files.get(int(m.group(1)), []), request, installation_id)
        if (m := re.match(r"^/pulls/(\d+)/reviews$", rest)):
            number = int(m.group(1))
            if method == "GET":
                return self._page(state.reviews.get(number, []), request, installation_id)
            review = spec_example("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "post", "200")
            review.update(id=next(self._ids), body=body.get("body", ""), commit_id=body.get("commit_id"), state="COMMENTED")
            review["comments_posted"] = body.get("comments", [])
            state.reviews.setdefault(number, []).append(review)
            return ok(review)
        if (m := re.match(r"^/pulls/(\d+)/comments$", rest)) and method == "POST":
            comment = spec_example("/repos/{owner}/{repo}/pulls/{pull_number}/comments", "post", "201", "example-for-a-multi-line-comment")
            comment.update(id=next(self._ids), body=body["body"], path=body["path"], line=body.get("line"))
            state.review_comments.setdefault(int(m.group(1)), []).append(comment)
            return ok(comment, 201)
        if (m := re.match(r"^/issues/(\d+)/comments$", rest)):
            number = int(m.group(1))
            if method == "GET":
                return self._page(state.issue_comments.get(number, []), request, installation_id)
            comment = spec_example("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post", "201")
            comment.update(id=next(self._ids), body=body["body"])
            state.issue_comments.setdefault(number, []).append(comment)
            return ok(comment, 201)
        if (m := re.match(r"^/issues/comments/(\d+)$", rest)) and method == "PATCH":
            for comments in state.issue_comments.values():
                for comment in comments:
                    if comment["id"] == int(m.group(1)):
                        comment["body"] = body["body"]
                        return ok(comment)
            return ok({"message": "Not Found"}, 404)
        if rest == "/check-runs" and method == "POST":
            run = spec_example("/repos/{owner}/{repo}/check-runs", "post", "201", "example-of-in-progress-conclusion")
            run.update(id=next(self._ids), name=body["name"], head_sha=body["head_sha"], status=body.get("status", "queued"),
                       conclusion=body.get("conclusion"), output={**run.get("output", {}), **body.get("output", {})})
            state.check_runs[run["id"]] = run
            return ok(run, 201)
        if (m := re.match(r"^/check-runs/(\d+)$", rest)) and method == "PATCH":
            run = state.check_runs.get(int(m.group(1)))
            if run is None:
                return ok({"message": "Not Found"}, 404)
            run.update({k: v for k, v in body.items() if k in ("status", "conclusion", "name")})
            if "output" in body:
                run["output"] = {**run.get("output", {}), **body["output"]}
            return ok(run)
        if (m := re.match(r"^/commits/([^/]+)/check-runs$", rest)) and method == "GET":
            name = request.args.get("check_name")
            runs = [r for r in state.check_runs.values() if r["head_sha"] == m.group(1) and (not name or r["name"] == name)]
            return ok({"total_count": len(runs), "check_runs": runs})
        if (m := re.match(r"^/contents/(.+)$", rest)) and method == "GET":
            text = state.contents.get((m.group(1), request.args.get("ref", "")))
            if text is None:
                return ok({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)
            data = spec_example("/repos/{owner}/{repo}/contents/{path}", "get", "200", "response-if-content-is-a-file")
            data.update(type="file", encoding="base64", path=m.group(1), content=base64.b64encode(text.encode()).decode())
            return ok(data)
        if (m := re.match(r"^/compare/([^.]+)\.\.\.(.+)$", rest)) and method == "GET":
            key = f"{m.group(1)}...{m.group(2)}"
            if "diff" in request.headers.get("Accept", ""):
                diff = state.diffs.get(key)
                if diff is None:
                    return ok({"message": "Not Found"}, 404)
                response = Response(diff, status=200, content_type="text/plain; charset=utf-8")
                return response
            return ok({"status": "ahead" if key in state.diffs else "diverged", "ahead_by": 1, "behind_by": 0})
        return ok({"message": "Not Found"}, 404)

    def _page(self, items: list[Any], request: Request, installation_id: int | None) -> Response:
        per_page = int(request.args.get("per_page", 30))
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        last = max(1, -(-len(items) // per_page))
        # GitHub lists at most 3,000 files of a pull request.
        if "/files" in request.path:
            last = min(last, 30)
        if page < last:
            base = self.url + request.path
            headers["Link"] = f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", <{base}?per_page={per_page}&page={last}>; rel="last"'
        return self._json(chunk, 200, headers, installation_id)
