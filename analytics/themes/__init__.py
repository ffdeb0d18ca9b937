"""Comment themes: the taxonomy in taxonomy.yml, a keyword baseline and a scikit-learn classifier trained on
labelled_comments.csv, a lexicon sentiment score, and the tables they write (see docs/themes.md)."""

from analytics.themes.classifier import (
    KEYWORD,
    MODEL,
    Evaluation,
    KeywordClassifier,
    SentimentScorer,
    Taxonomy,
    ThemeClassifier,
    classify,
    classify_table,
    default_classifier,
    evaluate,
    load_labelled,
    load_taxonomy,
    sentiment_score,
    train,
    write_evaluation,
)

__all__ = [
    "KEYWORD",
    "MODEL",
    "Evaluation",
    "KeywordClassifier",
    "SentimentScorer",
    "Taxonomy",
    "ThemeClassifier",
    "classify",
    "classify_table",
    "default_classifier",
    "evaluate",
    "load_labelled",
    "load_taxonomy",
    "sentiment_score",
    "train",
    "write_evaluation",
]
