"""Small helpers every package uses: argument checks (`common.checks`)."""
