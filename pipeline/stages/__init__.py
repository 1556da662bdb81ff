"""The review stages, one module each; ``pipeline.review.STAGES`` lists them in order."""
