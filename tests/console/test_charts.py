"""The SVG charts: scaling, gaps, SLA threshold, and nothing but escaped markup."""

from __future__ import annotations

from console.charts import bucket_series, line_chart, nice_ceiling


def test_buckets_average_throughput_and_weight_wait_by_jobs():
    rows = [{"minute": 100 + i, "jobs": 0, "failed": 0, "avg_wait_ms": None} for i in range(20)]
    rows[0].update(jobs=2, avg_wait_ms=1000)
    rows[1].update(jobs=6, failed=1, avg_wait_ms=3000)
    first, second = bucket_series(rows, 10)
    assert first == {"minute": 100, "jobs": 8, "failed": 1, "jobs_per_minute": 0.8, "avg_wait_ms": 2500}
    assert second["jobs"] == 0 and second["avg_wait_ms"] is None


def test_axis_top_is_a_round_number_above_the_data():
    assert [nice_ceiling(v) for v in (0, 0.8, 3, 7.5, 42, 101)] == [1, 1, 5, 10, 50, 200]


def test_chart_marks_points_above_the_threshold_and_leaves_gaps_for_missing_data():
    svg = str(line_chart([1, 2, None, 40, 5], first_minute=0, unit="s", label="w <q>", threshold=30))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="chart-breach"') == 1
    assert svg.count("<polyline") == 2  # the None splits the line
    assert 'class="chart-threshold"' in svg
    assert "w &lt;q&gt;" in svg and "<q>" not in svg
    assert ">50 s<" in svg
