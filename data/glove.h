// Pre-trained word vectors in the GloVe text format (namespace dive::data): one word per line followed by
// `dim` numbers, separated by single spaces (as torchtext reads them: a word may contain other
// whitespace such as U+00A0). Used to initialise the text tower's embedding table (docs/MODEL.md §2.3).
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "lib/core/tensor.h"

namespace dive::data {

// The official fallback for a vocabulary word the vectors lack (EncoderText.init_weights): drop every
// '-', '.' and '\'', then keep the part before the first '/'.
std::string word_vector_fallback(const std::string& word);

// f32 [vocab.size(), dim] on the host: row i is the vector of vocab.word(i), else of its fallback form,
// else NaN (the caller keeps its default init there). `found` counts the non-NaN rows. As torchtext: a
// line with a single value (a word2vec/fastText "count dim" header) is skipped and a word listed twice
// takes its last vector. A line with another number of values than `dim`, a value that is not a number,
// or an empty line is an error naming the file and the line; so is a file that cannot be read.
Tensor load_word_vectors(const std::string& glove_txt, const Vocabulary& vocab, int64_t dim, int64_t& found);

}  // namespace dive::data
