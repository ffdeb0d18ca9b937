"""Classify survey comments into the configured themes, with a sentiment score, and report how well it works.

Two methods compete: a keyword baseline (taxonomy.yml) and a scikit-learn text classifier (TF-IDF word and
character n-grams into a class-balanced logistic regression) trained on the hand-labelled sample
(labelled_comments.csv). `evaluate` splits the sample once, stratified by theme, fits the model on the training
rows only and scores both methods on the held-out rows with macro-F1; the model is used only when it beats the
baseline there, and is then refitted on the whole sample to classify everything. See docs/themes.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from analytics.tables import replace_table

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

HERE = Path(__file__).parent
TAXONOMY_PATH = HERE / "taxonomy.yml"
LABELLED_PATH = HERE / "labelled_comments.csv"
SEED = 2026
TEST_SIZE = 0.25
KEYWORD = "keyword_baseline"
MODEL = "tfidf_logistic_regression"
SENTIMENTS = ("positive", "neutral", "negative")
LABELLED_COLUMNS = ["comment_id", "comment", "theme", "sentiment"]

# Lower-case words (with inner apostrophes: "don't") and the punctuation that ends a clause for negation.
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[.,;:!?()\"]")
CLAUSE_BREAKS = frozenset({".", ",", ";", ":", "!", "?", "(", ")", '"', "but", "however", "although", "though"})


def normalise(text: str) -> str:
    """Lower case, typographic apostrophes made straight (so a curly "don't" matches "don't")."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


# ---------------------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Theme:
    key: str
    label: str
    description: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    negators: frozenset[str]
    negation_window: int
    negated_weight: float


@dataclass(frozen=True)
class Taxonomy:
    themes: tuple[Theme, ...]
    fallback: str
    lexicon: Lexicon

    @property
    def keys(self) -> list[str]:
        return [theme.key for theme in self.themes]

    def label(self, key: str) -> str:
        return next(theme.label for theme in self.themes if theme.key == key)


def _words_list(values: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A list of words from the YAML; anything that is not a string (an unquoted no, yes, on, off or number,
    which YAML reads as a boolean or a number) is reported rather than silently converted."""
    values = list(values or ())
    problems += [f"{where}: {value!r} is not a string (quote it)" for value in values if not isinstance(value, str)]
    return tuple(value for value in values if isinstance(value, str))


def load_taxonomy(path: Path | str = TAXONOMY_PATH) -> Taxonomy:
    """The themes (in tie-break order), the fallback theme and the sentiment lexicon, checked for mistakes."""
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    problems: list[str] = []
    themes = tuple(
        Theme(
            key=str(item["key"]),
            label=str(item["label"]),
            description=str(item["description"]),
            keywords=_words_list(item.get("keywords"), f"{item['key']} keywords", problems),
        )
        for item in config["themes"]
    )
    keys = [theme.key for theme in themes]
    fallback = str(config["fallback"])
    if len(set(keys)) != len(keys):
        problems.append(f"duplicate theme keys in {keys}")
    if fallback not in keys:
        problems.append(f"fallback {fallback!r} is not a theme")
    for theme in themes:
        if theme.key != fallback and not theme.keywords:
            problems.append(f"theme {theme.key!r} has no keywords")
        problems += [f"{theme.key}: keyword {kw!r} is not lower case" for kw in theme.keywords if kw != kw.lower()]
    sentiment = config["sentiment"]
    lexicon = Lexicon(
        positive=_words_list(sentiment["positive"], "positive words", problems),
        negative=_words_list(sentiment["negative"], "negative words", problems),
        negators=frozenset(_words_list(sentiment["negators"], "negators", problems)),
        negation_window=int(sentiment["negation_window"]),
        negated_weight=float(sentiment["negated_weight"]),
    )
    both = set(lexicon.positive) & set(lexicon.negative)
    if both:
        problems.append(f"sentiment words both positive and negative: {sorted(both)}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Taxonomy(themes=themes, fallback=fallback, lexicon=lexicon)


def load_labelled(path: Path | str = LABELLED_PATH, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The hand-labelled sample: comment_id, comment, theme (a taxonomy key), sentiment (positive/neutral/negative)."""
    taxonomy = taxonomy or load_taxonomy()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(frame.columns) != LABELLED_COLUMNS:
        raise ValueError(f"{path}: columns {list(frame.columns)}, expected {LABELLED_COLUMNS}")
    problems = []
    if frame["comment_id"].duplicated().any():
        problems.append(f"duplicate comment_id {sorted(set(frame.comment_id[frame.comment_id.duplicated()]))}")
    if (frame["comment"].str.strip() == "").any():
        problems.append("empty comments")
    unknown = set(frame["theme"]) - set(taxonomy.keys)
    if unknown:
        problems.append(f"themes not in the taxonomy: {sorted(unknown)}")
    if not set(frame["sentiment"]) <= set(SENTIMENTS):
        problems.append(f"sentiments not in {SENTIMENTS}: {sorted(set(frame.sentiment) - set(SENTIMENTS))}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return frame


# ---------------------------------------------------------------------------------------------------------------
# Keyword baseline and sentiment


def words(text: str) -> list[str]:
    """The lower-cased words of a text, with the punctuation that ends a clause as separate tokens."""
    return TOKEN.findall(normalise(text))


class KeywordClassifier:
    """The theme with the most keyword hits; ties go to the theme listed first; no hit gives the fallback.

    Comments and keywords are split into words the same way (letters and digits, inner apostrophes kept:
    "don't"), so a keyword matches whole words only: "bug" matches neither "debugging" nor "bugs"; "crash*"
    matches any word starting with "crash"; a phrase matches consecutive words within one clause; "user-friendly"
    also matches "user friendly". Per theme, the longest keyword starting at a word counts once and the words it
    covers are not counted again ("too many clicks" is one hit, not two with "clicks").
    """

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        themes = [theme for theme in taxonomy.themes if theme.keywords]
        self.keys = np.array([theme.key for theme in themes], dtype=object)
        # (words...) -> themes, for exact keywords; (leading words...) -> [(prefix of the last word, theme)].
        self.exact: dict[tuple[str, ...], set[int]] = {}
        self.prefixed: dict[tuple[str, ...], set[tuple[str, int]]] = {}
        for index, theme in enumerate(themes):
            for keyword in theme.keywords:
                parts = tuple(TOKEN.findall(keyword.rstrip("*")))
                if not parts:
                    raise ValueError(f"{theme.key}: keyword {keyword!r} has no words")
                if keyword.endswith("*"):
                    self.prefixed.setdefault(parts[:-1], set()).add((parts[-1], index))
                else:
                    self.exact.setdefault(parts, set()).add(index)
        self.longest = max(len(parts) for parts in [*self.exact, *((*head, "") for head in self.prefixed)])
        self.phrase_starts = {parts[0] for parts in self.exact if len(parts) > 1} | {
            head[0] for head in self.prefixed if head
        }
        self.single_prefixes = sorted(self.prefixed.get((), set()))
        self._word_themes: dict[str, tuple[int, ...]] = {}

    def word_themes(self, word: str) -> tuple[int, ...]:
        """Themes with a one-word keyword matching `word` (cached: comments reuse a small vocabulary)."""
        found = self._word_themes.get(word)
        if found is None:
            themes = set(self.exact.get((word,), ()))
            themes.update(theme for prefix, theme in self.single_prefixes if word.startswith(prefix))
            found = self._word_themes[word] = tuple(sorted(themes))
        return found

    def count(self, text: str) -> list[int]:
        """Keyword hits per theme (taxonomy order, fallback excluded) in one comment."""
        tokens = words(text)
        counts = [0] * len(self.keys)
        free_from = [0] * len(self.keys)  # per theme, the first word not covered by a counted keyword
        for position, token in enumerate(tokens):
            if token in CLAUSE_BREAKS:
                continue
            longest: dict[int, int] = {}  # theme -> length of its longest keyword starting here
            if token in self.phrase_starts:
                for length in range(min(self.longest, len(tokens) - position), 1, -1):
                    span = tuple(tokens[position : position + length])
                    if any(word in CLAUSE_BREAKS for word in span):
                        continue
                    for theme in self.exact.get(span, ()):
                        longest.setdefault(theme, length)
                    for prefix, theme in self.prefixed.get(span[:-1], ()):
                        if span[-1].startswith(prefix):
                            longest.setdefault(theme, length)
            for theme in self.word_themes(token):
                longest.setdefault(theme, 1)
            for theme, length in longest.items():
                if position >= free_from[theme]:
                    counts[theme] += 1
                    free_from[theme] = position + length
        return counts

    def hits(self, comments: Sequence[str]) -> np.ndarray:
        """Keyword hits per comment (rows) and theme (columns, in taxonomy order without the fallback)."""
        return np.array([self.count(text) for text in comments], dtype=np.int64).reshape(-1, len(self.keys))

    def predict_with_confidence(self, comments: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Themes, and the winner's share of all keyword hits as confidence (0 for the fallback)."""
        counts = self.hits(comments)
        if not len(counts):
            return np.array([], dtype=object), np.array([], dtype=float)
        best = counts.argmax(axis=1)  # the first maximum: ties go to the earlier theme
        top = counts[np.arange(len(counts)), best]
        themes = np.where(top > 0, self.keys[best], self.taxonomy.fallback).astype(object)
        confidence = np.where(top > 0, top / np.maximum(counts.sum(axis=1), 1), 0.0)
        return themes, confidence

    def predict(self, comments: Sequence[str]) -> list[str]:
        return self.predict_with_confidence(comments)[0].tolist()


class SentimentScorer:
    """Sentiment in [-1, 1] from the lexicon in taxonomy.yml.

    Each lexicon word counts w = +1 (positive) or -1 (negative). When a negator ("not", "never", "no", "don't",
    ...) is among the `negation_window` words before it in the same clause (clauses end at punctuation and at
    "but"), the word counts w = -negated_weight * polarity instead: "not slow" is mildly positive, "not great"
    mildly negative. score = sum(w) / (sum(|w|) + 1): 0 without lexicon words, +0.5 for one positive word,
    +0.67 for two, and never reaching +-1, so more evidence gives a stronger score.
    """

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.exact = {word: 1 for word in lexicon.positive if not word.endswith("*")}
        self.exact.update({word: -1 for word in lexicon.negative if not word.endswith("*")})
        self.positive_prefixes = tuple(word[:-1] for word in lexicon.positive if word.endswith("*"))
        self.negative_prefixes = tuple(word[:-1] for word in lexicon.negative if word.endswith("*"))

    def polarity(self, token: str) -> int:
        if token in self.exact:
            return self.exact[token]
        if token.startswith(self.negative_prefixes):
            return -1
        if token.startswith(self.positive_prefixes):
            return 1
        return 0

    def score(self, text: str) -> float:
        tokens = words(text)
        total = magnitude = 0.0
        for position, token in enumerate(tokens):
            polarity = self.polarity(token)
            if not polarity:
                continue
            weight = float(polarity)
            for previous in reversed(tokens[max(0, position - self.lexicon.negation_window) : position]):
                if previous in CLAUSE_BREAKS:
                    break
                if previous in self.lexicon.negators:
                    weight = -self.lexicon.negated_weight * polarity
                    break
            total += weight
            magnitude += abs(weight)
        return total / (magnitude + 1.0)


@cache
def _default_scorer() -> SentimentScorer:
    return SentimentScorer(load_taxonomy().lexicon)


def sentiment_score(text: str, taxonomy: Taxonomy | None = None) -> float:
    """Sentiment of one comment in [-1, 1] (formula: SentimentScorer); 0 when no lexicon word occurs."""
    scorer = SentimentScorer(taxonomy.lexicon) if taxonomy else _default_scorer()
    return scorer.score(text)


# ---------------------------------------------------------------------------------------------------------------
# The scikit-learn model and the held-out evaluation


def build_model(seed: int = SEED) -> Pipeline:
    """TF-IDF of word 1-2 grams and of character 3-5 grams within words (robust to typos: "preformance"),
    into a logistic regression that weights themes inversely to their frequency."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True)),
        ]
    )
    classifier = LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000, random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass
class Evaluation:
    """Both methods scored on the same held-out rows; `model` was fitted on the training rows only."""

    train_ids: list[str]
    test_ids: list[str]
    truth: list[str]  # the held-out themes, in test_ids order
    predictions: dict[str, list[str]]  # method -> held-out predictions, in test_ids order
    macro_f1: dict[str, float]
    per_theme: pd.DataFrame  # method, theme, precision, recall, f1, support
    chosen: str
    model: Any

    @property
    def train_rows(self) -> int:
        return len(self.train_ids)

    @property
    def test_rows(self) -> int:
        return len(self.test_ids)

    def frame(self) -> pd.DataFrame:
        """Long format: method, theme ('all' for macro_f1), metric, value, test_rows, train_rows, chosen."""
        rows = []
        for method, macro in self.macro_f1.items():
            rows.append({"method": method, "theme": "all", "metric": "macro_f1", "value": macro})
            for record in self.per_theme[self.per_theme["method"] == method].to_dict("records"):
                rows += [
                    {"method": method, "theme": record["theme"], "metric": metric, "value": float(record[metric])}
                    for metric in ("precision", "recall", "f1", "support")
                ]
        frame = pd.DataFrame(rows, columns=["method", "theme", "metric", "value"])
        frame["test_rows"] = self.test_rows
        frame["train_rows"] = self.train_rows
        frame["chosen"] = frame["method"] == self.chosen
        return frame


def evaluate(
    labelled: pd.DataFrame, taxonomy: Taxonomy | None = None, test_size: float = TEST_SIZE, seed: int = SEED
) -> Evaluation:
    """Split the labelled sample once (stratified by theme), fit the model on the training rows, and score the
    baseline and the model on the held-out rows. macro-F1 is the unweighted mean of the per-theme F1 over the
    themes that occur in the held-out truth or predictions. The model is chosen only if its macro-F1 is higher."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support
    from sklearn.model_selection import train_test_split

    taxonomy = taxonomy or load_taxonomy()
    train, test = train_test_split(labelled, test_size=test_size, random_state=seed, stratify=labelled["theme"])
    model = build_model(seed).fit(train["comment"].tolist(), train["theme"].tolist())
    truth = test["theme"].tolist()
    predictions = {
        KEYWORD: KeywordClassifier(taxonomy).predict(test["comment"].tolist()),
        MODEL: model.predict(test["comment"].tolist()).tolist(),
    }
    macro_f1, per_theme = {}, []
    for method, predicted in predictions.items():
        present = sorted(set(truth) | set(predicted))
        macro_f1[method] = float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0))
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, predicted, labels=taxonomy.keys, zero_division=0
        )
        per_theme.append(
            pd.DataFrame(
                {
                    "method": method,
                    "theme": taxonomy.keys,
                    "precision": precision,
                    "recall": recall,
                    "f1": f1,
                    "support": support,
                }
            )
        )
    chosen = MODEL if macro_f1[MODEL] > macro_f1[KEYWORD] else KEYWORD
    return Evaluation(
        train_ids=train["comment_id"].tolist(),
        test_ids=test["comment_id"].tolist(),
        truth=truth,
        predictions=predictions,
        macro_f1=macro_f1,
        per_theme=pd.concat(per_theme, ignore_index=True),
        chosen=chosen,
        model=model,
    )


# ---------------------------------------------------------------------------------------------------------------
# Classifying comments


@dataclass
class ThemeClassifier:
    """The method that won the evaluation, ready to classify; `model` is refitted on the whole labelled sample
    (None when the keyword baseline won)."""

    taxonomy: Taxonomy
    evaluation: Evaluation
    model: Any

    @property
    def method(self) -> str:
        return self.evaluation.chosen

    def classify_frame(self, comments: Iterable[str | None]) -> pd.DataFrame:
        """comment, theme, theme_confidence, sentiment_score for each comment, in order. Each distinct text is
        classified once; blank or missing comments get the fallback theme, confidence 0 and sentiment 0."""
        texts = pd.Series(list(comments), dtype=object).fillna("").astype(str)
        codes, distinct = pd.factorize(texts)
        distinct = [str(text) for text in distinct]
        themes = np.full(len(distinct), self.taxonomy.fallback, dtype=object)
        confidence = np.zeros(len(distinct))
        blank = np.array([not text.strip() for text in distinct], dtype=bool)
        filled = [text for text, empty in zip(distinct, blank, strict=True) if not empty]
        if filled:
            if self.model is not None:
                probabilities = self.model.predict_proba(filled)
                best = probabilities.argmax(axis=1)
                themes[~blank] = self.model.classes_[best]
                confidence[~blank] = probabilities[np.arange(len(filled)), best]
            else:
                themes[~blank], confidence[~blank] = KeywordClassifier(self.taxonomy).predict_with_confidence(filled)
        scorer = SentimentScorer(self.taxonomy.lexicon)
        sentiment = np.array([scorer.score(text) for text in distinct], dtype=float)
        return pd.DataFrame(
            {
                "comment": texts.to_numpy(),
                "theme": themes[codes] if len(codes) else themes,
                "theme_confidence": confidence[codes] if len(codes) else confidence,
                "sentiment_score": sentiment[codes] if len(codes) else sentiment,
            }
        )

    def classify(self, comments: Iterable[str | None]) -> list[tuple[str, float, float]]:
        frame = self.classify_frame(comments)
        return list(
            zip(
                frame["theme"].tolist(),
                frame["theme_confidence"].tolist(),
                frame["sentiment_score"].tolist(),
                strict=True,
            )
        )


def train(labelled: pd.DataFrame | None = None, taxonomy: Taxonomy | None = None, seed: int = SEED) -> ThemeClassifier:
    """Evaluate both methods on held-out rows, then refit the winner (if it is the model) on every labelled row."""
    taxonomy = taxonomy or load_taxonomy()
    labelled = load_labelled(taxonomy=taxonomy) if labelled is None else labelled
    evaluation = evaluate(labelled, taxonomy, seed=seed)
    model = None
    if evaluation.chosen == MODEL:
        model = build_model(seed).fit(labelled["comment"].tolist(), labelled["theme"].tolist())
    return ThemeClassifier(taxonomy=taxonomy, evaluation=evaluation, model=model)


@cache
def default_classifier() -> ThemeClassifier:
    """Trained once per process from the shipped taxonomy and labelled sample."""
    return train()


def classify(
    comments: Iterable[str | None], classifier: ThemeClassifier | None = None
) -> list[tuple[str, float, float]]:
    """(theme, theme_confidence, sentiment_score) per comment, by the method that won the evaluation."""
    return (classifier or default_classifier()).classify(comments)


# ---------------------------------------------------------------------------------------------------------------
# DuckDB


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _create_schema_of(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if "." in table:
        con.execute(f"create schema if not exists {table.rsplit('.', 1)[0]}")


def classify_table(
    con: duckdb.DuckDBPyConnection,
    source_sql: str,
    id_column: str,
    text_column: str,
    target_table: str,
    classifier: ThemeClassifier | None = None,
) -> int:
    """Replace `target_table` with one row per source row that has a non-blank comment: the id, theme,
    theme_label, theme_confidence, sentiment_score and theme_method. Distinct comments are read in one query,
    classified in one batch and written back in one statement, so running it twice gives the same table."""
    classifier = classifier or default_classifier()
    text = _quote(text_column)
    distinct = con.execute(
        f"select distinct {text} as comment from ({source_sql}) as source "
        f"where {text} is not null and length(trim({text}, ' \t\r\n')) > 0"
    ).fetchall()
    classified = classifier.classify_frame(row[0] for row in distinct)
    labels = {theme.key: theme.label for theme in classifier.taxonomy.themes}
    classified["theme_label"] = classified["theme"].map(labels)
    classified = classified.astype({"comment": object, "theme": object, "theme_label": object})
    _create_schema_of(con, target_table)
    con.register("_classified_comments", classified)
    try:
        con.execute(
            f"""
            create or replace table {target_table} as
            select
                source.{_quote(id_column)},
                cast(classified.theme as varchar) as theme,
                cast(classified.theme_label as varchar) as theme_label,
                cast(classified.theme_confidence as double) as theme_confidence,
                cast(classified.sentiment_score as double) as sentiment_score,
                cast(? as varchar) as theme_method
            from ({source_sql}) as source
            inner join _classified_comments as classified
                on source.{text} = cast(classified.comment as varchar)
            order by source.{_quote(id_column)}
            """,
            [classifier.method],
        )
    finally:
        con.unregister("_classified_comments")
    return con.execute(f"select count(*) from {target_table}").fetchall()[0][0]


def write_evaluation(con: duckdb.DuckDBPyConnection, result: Evaluation, target_table: str) -> int:
    """Replace `target_table` with the evaluation in long format (the comment_theme_evaluation mart)."""
    columns = {
        "method": "varchar",
        "theme": "varchar",
        "metric": "varchar",
        "value": "double",
        "test_rows": "integer",
        "train_rows": "integer",
        "chosen": "boolean",
    }
    return replace_table(con, target_table, result.frame(), columns)
