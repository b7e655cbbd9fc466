// Vocabulary: a text file with one token per line (line number = id). Building follows the
// official vocab.py: NLTK-tokenize the lower-cased captions, count, keep the words whose count is
// >= threshold in first-seen order (Python's Counter iterates in insertion order), after
// <pad> <start> <end> <unk>; <mask> is appended last, as train.py does at run time.
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "data/dataset.h"
#include "lib/core/error.h"
#include "lib/io/atomic_file.h"

namespace dive::data {

namespace {

const char* const kSpecials[] = {"<pad>", "<start>", "<end>", "<unk>"};
constexpr const char* kMask = "<mask>";

bool has_space(const std::string& w) {
  for (char c : w)
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') return true;
  return false;
}

}  // namespace

Vocabulary Vocabulary::from_words(std::vector<std::string> words, const std::string& origin) {
  DIVE_CHECK(words.size() >= 5, "vocabulary ", origin, ": ", words.size(),
             " tokens; needs at least <pad> <start> <end> <unk> ... <mask>");
  for (size_t k = 0; k < 4; ++k)
    DIVE_CHECK(words[k] == kSpecials[k], "vocabulary ", origin, " line ", k + 1, ": expected '", kSpecials[k],
               "', found '", words[k], "'");
  DIVE_CHECK(words.back() == kMask, "vocabulary ", origin, " line ", words.size(), ": the last token must be '",
             kMask, "', found '", words.back(), "'");
  Vocabulary v;
  v.index_.reserve(words.size());
  for (size_t k = 0; k < words.size(); ++k) {
    const std::string& w = words[k];
    DIVE_CHECK(!w.empty(), "vocabulary ", origin, " line ", k + 1, ": empty token");
    DIVE_CHECK(!has_space(w), "vocabulary ", origin, " line ", k + 1, ": token '", w, "' contains whitespace");
    auto [it, fresh] = v.index_.emplace(w, int64_t(k));
    DIVE_CHECK(fresh, "vocabulary ", origin, " line ", k + 1, ": duplicate token '", w, "' (first on line ",
               it->second + 1, ")");
  }
  v.words_ = std::move(words);
  return v;
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DIVE_CHECK(f.good(), "vocabulary '", path, "': cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  std::vector<std::string> words;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    words.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return from_words(std::move(words), "'" + path + "'");
}

void Vocabulary::save(const std::string& path) const {
  std::string text;
  for (const std::string& w : words_) text += w + "\n";
  io::write_file_atomic(path, text, "vocabulary");
}

Vocabulary Vocabulary::build(const std::vector<std::string>& captions, int64_t threshold) {
  std::unordered_map<std::string, int64_t> count;
  std::vector<std::string> order;  // first-seen order
  for (const std::string& c : captions)
    for (std::string& t : tokenize(c)) {
      auto [it, fresh] = count.emplace(t, 0);
      if (fresh) order.push_back(std::move(t));
      ++it->second;
    }
  std::vector<std::string> words(std::begin(kSpecials), std::end(kSpecials));
  for (const std::string& w : order) {
    if (count[w] < threshold) continue;
    bool special = w == kMask;
    for (const char* s : kSpecials) special = special || w == s;
    if (!special) words.push_back(w);  // add_word() ignores words already present
  }
  words.push_back(kMask);
  return from_words(std::move(words), "(built)");
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
  DIVE_CHECK(id >= 0 && id < size(), "vocabulary: id ", id, " out of range [0, ", size(), ")");
  return words_[size_t(id)];
}

std::vector<int64_t> Vocabulary::encode(const std::string& caption) const {
  std::vector<std::string> tokens = tokenize(caption);
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 2);
  ids.push_back(kStart);
  for (const std::string& t : tokens) ids.push_back(id(t));
  ids.push_back(kEnd);
  return ids;
}

}  // namespace dive::data
