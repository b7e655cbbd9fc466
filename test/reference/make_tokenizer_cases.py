#!/usr/bin/env python3
"""Writes test/data/tokenizer_cases.json: expected NLTK tokens for caption-like strings.

The official DivE code tokenizes with nltk.tokenize.word_tokenize(caption.lower()). word_tokenize
first splits sentences with Punkt (a model that is not available offline) and then applies
NLTKWordTokenizer to each sentence; captions are single sentences, so the expected tokens are
NLTKWordTokenizer().tokenize(text.lower()). Dev-only: pip install nltk.

Usage: python3 test/reference/make_tokenizer_cases.py [out.json]
"""
import json
import sys

import nltk
from nltk.tokenize import NLTKWordTokenizer

CASES = [
    "A man riding a wave on top of a surfboard.",
    "A kitchen with a stove, a sink and a refrigerator",
    "Two dogs playing in the grass.  ",
    "A woman's purse sitting on a table.",
    "The cat isn't sleeping on the bed.",
    "They're standing next to the bus they'll ride.",
    "We've got a red fire-hydrant on the side-walk.",
    "A 3.5 inch screen and 1,000 people.",
    "A plate of food with a fork, knife, and spoon...",
    "A sign that says \"STOP\" on a pole.",
    "\"Hello\" said the man.",
    "A bus that reads 'out of service' in front.",
    "A child (about 5 years old) eating cake.",
    "A man on a skateboard -- doing a trick.",
    "What is this? A dog!",
    "Is that a cat?!",
    "A clock reads 10:30 on the wall.",
    "Items: a cup, a bowl; and a plate.",
    "A sale sign: 50% off & free shipping @ the store #1 $5",
    "People's bags in the airport terminal's lobby.",
    "The dogs' toys are on the floor.",
    "I can't believe it's not butter.",
    "He cannot go, gonna stay, wanna play, gotta run.",
    "Gimme that, lemme see it.",
    "'Tis the season, 'twas the night.",
    "A man wearing a t-shirt and jeans.",
    "A group of people standing around a table ... eating.",
    "A bear in the woods . ",
    "A bathroom with a toilet , sink , and mirror .",
    "A giraffe standing near a tree.\n",
    "a picture of a street sign on a pole",
    "An old-fashioned 1950's car in a garage.",
    "Two men play frisbee at the park, one jumps.",
    "A *very* large elephant.",
    "A dog [brown] and a cat {white} <3",
    "A train going down the tracks..",
    "There are 2 pizzas, one w/ pepperoni.",
    "A `quoted` word and ``double'' quotes.",
    "A man in a suit and tie is standing in front of a building.",
    "A U.S. flag flying over the building.",
    "The man's wearing a hat, isn't he?",
    "A woman holding an umbrella in the rain.'",
    "The kids' room has 'toy cars' in it.",
    "A couple of zebras grazing in a field.'",
    "She said 'hi' to him.",
    "I'm sure you'd like it, wouldn't you?",
    "A plane in the sky; clouds behind it.",
    "Cows, sheep, and horses: all in one field.",
    "A surfer riding a wave at 5:00pm",
    "A vase with flowers (roses),",
    "Price is $3.50, or 3,50 euros.",
    "A café with crème brûlée.",
    "A caf\u00c9 SIGN in CAPITALS.",
    "Smart quotes: \u201cnice\u201d and \u2018fine\u2019 here.",
    "A dash \u2013 and an em dash \u2014 here.",
    "A man  with   many    spaces\tand\ttabs.",
    "d'ye know more'n me?",
    "A dog 'a lot' bigger.",
    "ends with a colon:",
    "ends with a comma,",
    "A .. B",
    "Mr. Smith's car.",
    "Yes.\"",
    "A sign reading \"no parking\".",
    "",
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test/data/tokenizer_cases.json"
    tok = NLTKWordTokenizer()
    cases = [{"text": t, "tokens": tok.tokenize(t.lower())} for t in CASES]
    doc = {
        "generator": "test/reference/make_tokenizer_cases.py",
        "nltk_version": nltk.__version__,
        "python_version": sys.version.split()[0],
        "rule": "tokens = nltk.tokenize.NLTKWordTokenizer().tokenize(text.lower())",
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out} (nltk {nltk.__version__})")


if __name__ == "__main__":
    main()
