"""Policy resolution: precedence, validation, unknown keys, glob semantics (no I/O)."""

from __future__ import annotations

from reviews import policy
from reviews.policy import Layer


def resolve(workspace=None, repository=None, file=None, parse_error=None):
    return policy.resolve(
        [
            Layer(source="workspace", data=workspace),
            Layer(source="repository", data=repository),
            Layer(source="file", data=file, ref="abc", parse_error=parse_error),
        ]
    )


def test_system_defaults_apply_when_nothing_is_configured():
    resolved = resolve()
    assert resolved.policy["review"]["max_findings"] == 25
    assert resolved.policy["review"]["categories"]["testing"] is True
    assert resolved.policy["provider"]["fallback"] is False
    assert resolved.policy["annotations"]["post_threshold"] == "medium"
    assert resolved.errors == []


def test_file_beats_repository_settings_beats_workspace_defaults_beats_system():
    resolved = resolve(
        workspace={"review": {"tone": "direct", "max_findings": 10, "language": "de"}},
        repository={"review": {"max_findings": 5, "tone": "minimal"}},
        file={"version": 1, "review": {"max_findings": 3}},
    )
    review = resolved.policy["review"]
    assert review["max_findings"] == 3  # file
    assert review["tone"] == "minimal"  # repository settings
    assert review["language"] == "de"  # workspace defaults
    assert review["min_severity"] == "low"  # system
    assert [s["source"] for s in resolved.sources] == ["system", "workspace", "repository", "file"]


def test_same_inputs_give_the_same_version_and_a_change_gives_another():
    one = resolve(file={"version": 1, "review": {"max_findings": 3}})
    two = resolve(file={"version": 1, "review": {"max_findings": 3}})
    three = resolve(file={"version": 1, "review": {"max_findings": 4}})
    assert one.version == two.version != three.version


def test_unknown_keys_are_reported_and_ignored():
    resolved = resolve(file={"version": 1, "review": {"max_findings": 3, "strictness": 9}, "extras": True})
    assert resolved.policy["review"]["max_findings"] == 3
    assert any("review.strictness" in e for e in resolved.errors)
    assert any("`extras`" in e for e in resolved.errors)


def test_an_invalid_file_falls_back_to_the_next_source_and_is_reported():
    resolved = resolve(repository={"review": {"max_findings": 7}}, file={"version": 1, "review": {"max_findings": 500}})
    assert resolved.policy["review"]["max_findings"] == 7
    assert any("review.max_findings" in e and ".sentinel/config.yaml" in e for e in resolved.errors)
    assert resolved.sources[-1]["applied"] is False


def test_a_file_without_version_or_with_broken_yaml_is_invalid():
    assert any("version" in e for e in resolve(file={"review": {"tone": "direct"}}).errors)
    try:
        policy.parse_config_file("review: [unclosed")
    except policy.PolicyError as exc:
        assert "invalid YAML" in exc.messages[0]
    else:  # pragma: no cover
        raise AssertionError("broken YAML parsed")


def test_max_findings_zero_means_no_cap():
    assert resolve(file={"version": 1, "review": {"max_findings": 0}}).policy["review"]["max_findings"] == 0


def test_layers_merge_key_by_key():
    resolved = resolve(repository={"paths": {"include": ["src/**"]}})
    assert resolved.policy["paths"]["include"] == ["src/**"]
    assert resolved.policy["paths"]["ignore"] == ["*.lock", "vendor/**", "node_modules/**"]


def test_branch_and_path_globs_follow_the_original_semantics():
    assert policy.branch_matches("release/*", "release/1.2/hotfix")
    assert policy.branch_matches("main", "main")
    assert not policy.branch_matches("main", "main2")
    assert policy.path_matches("*.lock", "poetry.lock")
    assert not policy.path_matches("*.lock", "web/package.lock")
    assert policy.path_matches("vendor/**", "vendor/a/b.go")
    assert policy.path_matches("**/*.py", "a/b/c.py")


def test_trigger_rules_in_order():
    p = resolve(file={"version": 1, "triggers": {"skip_labels": ["wip"], "skip_authors": ["bot"]}}).policy
    assert "target branch" in policy.trigger_skip_reason(p, base_ref="dev", head_ref="x", labels=[], author="a")
    assert policy.trigger_skip_reason(p, base_ref="main", head_ref="x", labels=[], author="a") is None
    assert "wip" in policy.trigger_skip_reason(p, base_ref="main", head_ref="x", labels=["wip"], author="a")
    assert "bot" in policy.trigger_skip_reason(p, base_ref="main", head_ref="x", labels=[], author="bot")
