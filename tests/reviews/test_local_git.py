"""The local-git provider against real repositories on disk."""

from __future__ import annotations

from integrations.source_control import InlineComment, get_provider, hidden_marker
from integrations.source_control.base import RepositoryRef


def ref_for(git_repo) -> RepositoryRef:
    return RepositoryRef(provider="local_git", full_name="local/sample", local_path=str(git_repo.path))


def test_reads_diff_files_and_history(git_repo, reviews_dir):
    base = git_repo.commit({"app.py": "print('a')\n"})
    git_repo.checkout("feature", create=True)
    head = git_repo.commit({"app.py": "print('b')\n", "new.py": "x = 1\n"})
    provider = get_provider("local_git")
    repo = ref_for(git_repo)
    diff = provider.get_diff(repo, base_sha=base, head_sha=head)
    assert "+print('b')" in diff and "b/new.py" in diff
    assert provider.get_file(repo, path="app.py", ref=base) == "print('a')\n"
    assert provider.get_file(repo, path="missing.txt", ref=base) is None
    assert provider.is_ancestor(repo, ancestor_sha=base, descendant_sha=head)
    assert not provider.is_ancestor(repo, ancestor_sha=head, descendant_sha=base)
    pr = provider.open_pull_request(repo, base_ref="main", head_ref="feature")
    assert (pr.base_sha, pr.head_sha) == (base, head)
    assert provider.open_pull_request(repo, base_ref="main", head_ref="feature").number == pr.number
    files = provider.list_changed_files(repo, number=pr.number).files
    assert {f.path: f.status for f in files} == {"app.py": "modified", "new.py": "added"}


def test_posting_is_idempotent_by_marker_and_rejects_start_equal_to_line(git_repo, reviews_dir):
    git_repo.commit({"a.py": "1\n"})
    provider = get_provider("local_git")
    repo = ref_for(git_repo)
    pr = provider.open_pull_request(repo, base_ref="main", head_ref="main")
    marker = hidden_marker("review-run", 1)
    comments = [InlineComment(path="a.py", line=1, body="fine"), InlineComment(path="a.py", line=1, start_line=1, body="bad")]
    first = provider.post_review(repo, number=pr.number, head_sha=pr.head_sha, marker=marker, body=f"{marker}\nhi", comments=comments)
    again = provider.post_review(repo, number=pr.number, head_sha=pr.head_sha, marker=marker, body=f"{marker}\nhi", comments=comments)
    assert [c.body for c in first.rejected_comments] == ["bad"]
    assert again.already_existed and again.external_id == first.external_id
    assert len(provider.posted_reviews(repo, pr.number)) == 1

    summary = hidden_marker("summary", "pr-1")
    provider.upsert_comment(repo, number=pr.number, marker=summary, body=f"{summary}\nv1")
    provider.upsert_comment(repo, number=pr.number, marker=summary, body=f"{summary}\nv2")
    comments_posted = provider.posted_comments(repo, pr.number)
    assert len(comments_posted) == 1 and comments_posted[0].read_text().endswith("v2")


def test_guideline_documents_are_read_from_the_config_commit(git_repo, reviews_dir):
    from reviews.execution import with_guidelines

    sha = git_repo.commit({"docs/style.md": "Prefer early returns.\n"})
    policy = {"guidelines": [{"path": "docs/style.md", "description": None}, {"path": "docs/missing.md"}]}
    loaded = with_guidelines(policy, get_provider("local_git"), ref_for(git_repo), sha)
    assert loaded["guidelines"] == [{"path": "docs/style.md", "description": None, "content": "Prefer early returns.\n"}]
    assert "content" not in policy["guidelines"][0]
