"""Sample-quality metrics and the feature extractors behind them."""
