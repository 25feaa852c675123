"""The review engine: a diff and a resolved policy in, validated findings out (issue 6).

`reviews.engine.types` is the contract between the engine and the review-run flow.
"""
