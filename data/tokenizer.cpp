// NLTK word_tokenize for one sentence: NLTKWordTokenizer.tokenize (nltk 3.10, the improved
// Treebank tokenizer) re-implemented as a sequence of hand-written passes, one per NLTK regex
// substitution and in NLTK's order. Every pass reads its input string and writes a new one, exactly
// as re.sub does (leftmost, non-overlapping matches, each tested against the unmodified input).
// Each pass quotes the regex it reproduces. Text is UTF-8; Python's \w, \s and \d are modelled per
// code point (ASCII exactly; non-ASCII letters count as word characters, Unicode spaces as spaces).
// Not reproduced: Punkt sentence splitting (word_tokenize splits sentences first; captions are one
// sentence, so only a period inside a multi-sentence caption can differ), convert_parentheses.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace dive::data {

namespace {

using Str = std::string;

size_t cp_len(const Str& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

uint32_t cp_at(const Str& s, size_t i) {
  size_t n = cp_len(s, i);
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c;
  uint32_t v = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return v;
}

size_t prev_start(const Str& s, size_t i) {  // start of the code point before position i (i > 0)
  size_t j = i - 1;
  while (j > 0 && i - j < 4 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
  return cp_len(s, j) == i - j ? j : i - 1;
}

bool is_space_cp(uint32_t c) {  // Python str.isspace() / re \s
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool is_word_cp(uint32_t c) {  // re \w: alphanumerics and '_'
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (is_space_cp(c)) return false;
  if (c <= 0xBF)  // Latin-1 punctuation and symbols, except the letters/digits among them
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || c == 0xBC ||
           c == 0xBD || c == 0xBE;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;  // general punctuation (quotes, dashes, ...)
  if (c >= 0x3000 && c <= 0x303F) return false;
  return true;
}

bool word_at(const Str& s, size_t i) { return i < s.size() && is_word_cp(cp_at(s, i)); }
bool word_before(const Str& s, size_t i) { return i > 0 && is_word_cp(cp_at(s, prev_start(s, i))); }
bool space_at(const Str& s, size_t i) { return i < s.size() && is_space_cp(cp_at(s, i)); }

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool starts_ci(const Str& s, size_t i, std::string_view w) {  // ASCII case-insensitive prefix test
  if (i + w.size() > s.size()) return false;
  for (size_t k = 0; k < w.size(); ++k)
    if (lower_ascii(s[i + k]) != w[k]) return false;
  return true;
}

bool starts(const Str& s, size_t i, std::string_view w) { return s.compare(i, w.size(), w) == 0; }

// Surrounds every code point for which `pred` holds with spaces: re.sub("[...]", r" \g<0> ").
template <class Pred>
Str surround(const Str& s, Pred pred) {
  Str o;
  o.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    size_t n = cp_len(s, i);
    if (pred(cp_at(s, i))) {
      o += ' ';
      o.append(s, i, n);
      o += ' ';
    } else {
      o.append(s, i, n);
    }
    i += n;
  }
  return o;
}

// Replaces every non-overlapping occurrence of `what` by `with`.
Str replace_all(const Str& s, std::string_view what, std::string_view with) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    if (starts(s, i, what)) {
      o += with;
      i += what.size();
    } else {
      o += s[i++];
    }
  }
  return o;
}

// ---- STARTING_QUOTES --------------------------------------------------------------------------

// "([«“‘„]|[`]+)" -> r" \1 "
Str opening_quotes(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    uint32_t c = cp_at(s, i);
    size_t n = cp_len(s, i);
    if (c == 0xAB || c == 0x201C || c == 0x2018 || c == 0x201E) {
      o += ' ';
      o.append(s, i, n);
      o += ' ';
      i += n;
    } else if (c == '`') {
      size_t j = i;
      while (j < s.size() && s[j] == '`') ++j;
      o += ' ';
      o.append(s, i, j - i);
      o += ' ';
      i = j;
    } else {
      o.append(s, i, n);
      i += n;
    }
  }
  return o;
}

// r"([ \(\[{<])(\"|\'{2})" -> r"\1 `` "
Str quote_after_opener(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    bool opener = c == ' ' || c == '(' || c == '[' || c == '{' || c == '<';
    if (opener && i + 1 < s.size() && s[i + 1] == '"') {
      o += c;
      o += " `` ";
      i += 2;
    } else if (opener && starts(s, i + 1, "''")) {
      o += c;
      o += " `` ";
      i += 3;
    } else {
      o += c;
      ++i;
    }
  }
  return o;
}

// r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)" -> r"\1 "
Str leading_apostrophe(const Str& s) {
  static const std::string_view kClitics[] = {"re", "ve", "ll", "m", "t", "s", "d", "n"};
  Str o;
  for (size_t i = 0; i < s.size(); ++i) {
    o += s[i];
    if (s[i] != '\'' || word_before(s, i) || !word_at(s, i + 1)) continue;
    bool clitic = false;
    for (std::string_view c : kClitics)
      if (starts_ci(s, i + 1, c) && !word_at(s, i + 1 + c.size())) clitic = true;
    if (!clitic) o += ' ';
  }
  return o;
}

// ---- PUNCTUATION ------------------------------------------------------------------------------

bool final_class_p1(uint32_t c) {  // [\]\)}>"\'»”’ ]
  return c == ']' || c == ')' || c == '}' || c == '>' || c == '"' || c == '\'' || c == 0xBB ||
         c == 0x201D || c == 0x2019 || c == ' ';
}
bool final_class_p7(uint32_t c) {  // [\]\)}>"\']
  return c == ']' || c == ')' || c == '}' || c == '>' || c == '"' || c == '\'';
}

// r'([^\.])(\.)(CLASS*)\s*$' -> r"\1 \2 \3 " (spaced) or r"\1 \2\3 " (not spaced).
// The match reaches the end of the text: the trailing whitespace is replaced by one space.
template <class Cls>
Str final_period(const Str& s, Cls cls, bool spaced) {
  for (size_t i = 0; i < s.size(); i += cp_len(s, i)) {
    size_t n = cp_len(s, i);
    if (s[i] == '.' || i + n >= s.size() || s[i + n] != '.') continue;
    size_t j = i + n + 1;
    while (j < s.size() && cls(cp_at(s, j))) j += cp_len(s, j);
    size_t k = j;
    while (k < s.size() && is_space_cp(cp_at(s, k))) k += cp_len(s, k);
    if (k != s.size()) continue;
    Str o = s.substr(0, i + n);
    o += spaced ? " . " : " .";
    o.append(s, i + n + 1, j - (i + n + 1));
    o += ' ';
    return o;
  }
  return s;
}

// r"([:,])([^\d])" -> r" \1 \2"
Str comma_colon(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if ((c == ':' || c == ',') && i + 1 < s.size() && !(s[i + 1] >= '0' && s[i + 1] <= '9')) {
      size_t n = cp_len(s, i + 1);
      o += ' ';
      o += c;
      o += ' ';
      o.append(s, i + 1, n);
      i += 1 + n;
    } else {
      o += c;
      ++i;
    }
  }
  return o;
}

// r"([:,])$" -> r" \1 "   ($: the end, or before a final newline)
Str comma_colon_at_end(const Str& s) {
  size_t n = s.size();
  size_t k = std::string::npos;
  if (n >= 1 && (s[n - 1] == ':' || s[n - 1] == ',')) k = n - 1;
  else if (n >= 2 && s[n - 1] == '\n' && (s[n - 2] == ':' || s[n - 2] == ',')) k = n - 2;
  if (k == std::string::npos) return s;
  return s.substr(0, k) + " " + s[k] + " " + s.substr(k + 1);
}

// r"\.{2,}" -> r" \g<0> "
Str ellipsis(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    while (j < s.size() && s[j] == '.') ++j;
    if (j - i >= 2) {
      o += ' ';
      o.append(s, i, j - i);
      o += ' ';
      i = j;
    } else {
      o += s[i++];
    }
  }
  return o;
}

// r"([^'])' " -> r"\1 ' "
Str closing_single_quote(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    size_t n = cp_len(s, i);
    if (s[i] != '\'' && starts(s, i + n, "' ")) {
      o.append(s, i, n);
      o += " ' ";
      i += n + 2;
    } else {
      o.append(s, i, n);
      i += n;
    }
  }
  return o;
}

// ---- ENDING_QUOTES ----------------------------------------------------------------------------

// r"\s+" -> " "
Str collapse_spaces(const Str& s) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    if (space_at(s, i)) {
      while (space_at(s, i)) i += cp_len(s, i);
      o += ' ';
    } else {
      size_t n = cp_len(s, i);
      o.append(s, i, n);
      i += n;
    }
  }
  return o;
}

// r"([^' ])('[sS]|'[mM]|'[dD]|') " and r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) " -> r"\1 \2 "
template <class Alt>
Str split_clitics(const Str& s, Alt alt) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    size_t n = cp_len(s, i);
    size_t len = (s[i] != '\'' && s[i] != ' ') ? alt(s, i + n) : 0;
    if (len > 0) {
      o.append(s, i, n);
      o += ' ';
      o.append(s, i + n, len);
      o += ' ';
      i += n + len + 1;
    } else {
      o.append(s, i, n);
      i += n;
    }
  }
  return o;
}

size_t clitic_short(const Str& s, size_t p) {  // '[sS] '[mM] '[dD] ' then a space; returns length
  if (p >= s.size() || s[p] != '\'') return 0;
  if (p + 2 < s.size() && std::string_view("sSmMdD").find(s[p + 1]) != std::string_view::npos && s[p + 2] == ' ')
    return 2;
  if (p + 1 < s.size() && s[p + 1] == ' ') return 1;
  return 0;
}

size_t clitic_long(const Str& s, size_t p) {
  static const std::string_view kAlts[] = {"'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"};
  for (std::string_view a : kAlts)
    if (starts(s, p, a) && p + 3 < s.size() && s[p + 3] == ' ') return 3;
  return 0;
}

// ---- CONTRACTIONS (MacIntyre) -----------------------------------------------------------------

// r"(?i)\b(A)(B)\b" -> r" \1 \2 " ; `need_space_after`: the wanna rule's (?=\s) instead of \b.
Str split_contraction(const Str& s, std::string_view a, std::string_view b, bool need_space_after) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    size_t e = i + a.size() + b.size();
    bool m = !word_before(s, i) && starts_ci(s, i, a) && starts_ci(s, i + a.size(), b) &&
             (need_space_after ? space_at(s, e) : !word_at(s, e));
    if (m) {
      o += ' ';
      o.append(s, i, a.size());
      o += ' ';
      o.append(s, i + a.size(), b.size());
      o += ' ';
      i = e;
    } else {
      size_t n = cp_len(s, i);
      o.append(s, i, n);
      i += n;
    }
  }
  return o;
}

// r"(?i) ('t)(is)\b" and r"(?i) ('t)(was)\b" -> r" \1 \2 "
Str split_tis(const Str& s, std::string_view b) {
  Str o;
  for (size_t i = 0; i < s.size();) {
    size_t e = i + 3 + b.size();
    if (s[i] == ' ' && starts_ci(s, i + 1, "'t") && starts_ci(s, i + 3, b) && !word_at(s, e)) {
      o += ' ';
      o.append(s, i + 1, 2);
      o += ' ';
      o.append(s, i + 3, b.size());
      o += ' ';
      i = e;
    } else {
      o += s[i++];
    }
  }
  return o;
}

// Python str.lower() for ASCII and Latin-1 letters (À..Þ except ×).
Str lower(const std::string& s) {
  Str o = s;
  for (size_t i = 0; i < o.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(o[i]);
    if (c >= 'A' && c <= 'Z') {
      o[i] = char(c + 32);
    } else if (c == 0xC3 && i + 1 < o.size()) {
      unsigned char d = static_cast<unsigned char>(o[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) o[i + 1] = char(d + 32);
      ++i;
    }
  }
  return o;
}

}  // namespace

std::vector<std::string> tokenize_sentence(const std::string& text) {
  Str s = text;
  // STARTING_QUOTES
  s = opening_quotes(s);
  if (!s.empty() && s[0] == '"') s = "``" + s.substr(1);  // r'^\"' -> r"``"
  s = replace_all(s, "``", " `` ");                         // r"(``)" -> r" \1 "
  s = quote_after_opener(s);
  s = leading_apostrophe(s);
  // PUNCTUATION
  s = final_period(s, final_class_p1, true);
  s = comma_colon(s);
  s = comma_colon_at_end(s);
  s = ellipsis(s);
  s = surround(s, [](uint32_t c) { return c == ';' || c == '@' || c == '#' || c == '$' || c == '%' || c == '&'; });
  s = surround(s, [](uint32_t c) { return c >= 0x2012 && c <= 0x2015; });
  s = final_period(s, final_class_p7, false);
  s = surround(s, [](uint32_t c) { return c == '?' || c == '!'; });
  s = closing_single_quote(s);
  s = surround(s, [](uint32_t c) { return c == '*'; });
  // PARENS_BRACKETS, DOUBLE_DASHES
  s = surround(s, [](uint32_t c) {
    return c == ']' || c == '[' || c == '(' || c == ')' || c == '{' || c == '}' || c == '<' || c == '>';
  });
  s = replace_all(s, "--", " -- ");
  s = " " + s + " ";
  // ENDING_QUOTES
  s = surround(s, [](uint32_t c) { return c == 0xBB || c == 0x201D || c == 0x2019; });
  s = replace_all(s, "''", " '' ");
  s = replace_all(s, "\"", " '' ");
  s = collapse_spaces(s);
  s = split_clitics(s, clitic_short);
  s = split_clitics(s, clitic_long);
  // CONTRACTIONS2, CONTRACTIONS3
  s = split_contraction(s, "can", "not", false);
  s = split_contraction(s, "d", "'ye", false);
  s = split_contraction(s, "gim", "me", false);
  s = split_contraction(s, "gon", "na", false);
  s = split_contraction(s, "got", "ta", false);
  s = split_contraction(s, "lem", "me", false);
  s = split_contraction(s, "more", "'n", false);
  s = split_contraction(s, "wan", "na", true);
  s = split_tis(s, "is");
  s = split_tis(s, "was");
  // str.split()
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    while (space_at(s, i)) i += cp_len(s, i);
    size_t j = i;
    while (j < s.size() && !space_at(s, j)) j += cp_len(s, j);
    if (j > i) out.emplace_back(s, i, j - i);
    i = j;
  }
  return out;
}

std::vector<std::string> tokenize(const std::string& caption) { return tokenize_sentence(lower(caption)); }

}  // namespace dive::data
