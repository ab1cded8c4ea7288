"""Sample-quality metrics and the feature extractors behind them.

    clf = evaluation.digits_classifier(workdir, image_size=8)      # trained once, cached as .npz
    figures = evaluation.image_metrics(clf.extractor, samples01, real01)   # FID, KID
    acc = evaluation.classification_accuracy(clf.classify, samples01, labels)
    toy = evaluation.toy_metrics(samples, fresh_data, dataset.log_prob)    # SW_2, log-likelihood

Images given to extractors are pixels in [0, 1], [N, H, W, C]. Nothing here loads a pickle.
"""

from evaluation.features import (
    DigitsClassifier, FeatureExtractor, classification_accuracy, digits_classifier, extract_features,
    image_metrics, inception_extractor, load_params, save_params,
)
from evaluation.metrics import (
    KID, fid_from_features, frechet_distance, kid_from_features, mmd2_unbiased, sliced_wasserstein,
    toy_metrics,
)

__all__ = [
    "FeatureExtractor", "DigitsClassifier", "digits_classifier", "inception_extractor", "extract_features",
    "image_metrics", "classification_accuracy", "save_params", "load_params", "KID", "frechet_distance",
    "fid_from_features", "kid_from_features", "mmd2_unbiased", "sliced_wasserstein", "toy_metrics",
]
