"""python -m evaluation: trains the default 8x8 digits classifier afresh (~30-40 s on two CPU cores)
and writes its parameters into evaluation/weights/, where `evaluation.digits_classifier` reads them
(run after any change to the classifier or its training; tests/test_classifier.py checks the file)."""

from evaluation.features import write_shipped_classifier

if __name__ == "__main__":
    print(write_shipped_classifier())
