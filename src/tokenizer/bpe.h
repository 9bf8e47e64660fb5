/* bpe.h — GPT-2's byte-level BPE tokenizer, read from HuggingFace files.
 *
 *     us_error err = {0};
 *     us_bpe *tok = us_bpe_from_vocab_merges(vocab, vocab_len, merges, merges_len, &err);
 *     if (!tok) fprintf(stderr, "%s\n", err.message);
 *     int32_t *ids;
 *     size_t n;
 *     if (us_bpe_encode(tok, (const uint8_t *)"Hello world", 11, &ids, &n, &err) == US_OK) {
 *         // ids = {15496, 995} with GPT-2's files
 *         free(ids);
 *     }
 *     us_bpe_free(tok);
 *
 * Encoding splits the text into pieces with GPT-2's pattern (pretokenize.h),
 * maps each byte of a piece to its one-byte token and then merges adjacent
 * tokens, always applying the lowest-ranked merge first (leftmost on ties),
 * as HuggingFace's BPE does. With merges derived from tiktoken's ranks
 * (scripts/gpt2_vocab_from_tiktoken.mjs) or GPT-2's own merges.txt, the ids
 * equal js-tiktoken's getEncoding('gpt2').encode(text, [], []) for any text.
 * Special tokens such as <|endoftext|> are never recognised in the text: it
 * is encoded as ordinary characters, like tiktoken's encode_ordinary.
 *
 * A us_bpe is immutable once built, keeps no global state, and may be used
 * for encoding and decoding from several threads at once. */
#ifndef US_TOKENIZER_BPE_H
#define US_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "unseal.h"

typedef struct us_bpe us_bpe;

/* Ids above this are rejected when loading (real vocabularies are < 2^18). */
#define US_BPE_MAX_ID ((1 << 24) - 1)

/* Builds a tokenizer from vocab.json (a JSON object: token string -> id, the
 * token written in GPT-2's byte-to-unicode alphabet) and merges.txt (an
 * optional "#version" line, then one "left right" pair per line; a pair's rank
 * is its line order, and a pair listed twice keeps its later rank, as
 * HuggingFace does). The vocabulary must hold all 256 one-byte tokens. Both
 * texts are borrowed for the call only. Returns owned (free with us_bpe_free)
 * or NULL with err naming the file, line or byte offset, and the problem. */
us_bpe *us_bpe_from_vocab_merges(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                 size_t merges_len, us_error *err);

/* Builds a tokenizer from a HuggingFace tokenizer.json (borrowed for the call
 * only). Accepted: model.type "BPE" with vocab and merges (as "left right"
 * strings or [left, right] pairs), no dropout, no continuing-subword prefix or
 * end-of-word suffix, model.ignore_merges honoured; a ByteLevel pre_tokenizer,
 * alone or as the only member of a Sequence (add_prefix_space and use_regex
 * honoured); normalizer null; decoder null or ByteLevel; post_processor null
 * or ByteLevel. Anything else is rejected with US_ERR_FORMAT naming it, since
 * the ids would differ from HuggingFace's. added_tokens are recorded: their
 * ids count in the vocabulary size and decode to their content. Returns owned
 * or NULL with err set. */
us_bpe *us_bpe_from_tokenizer_json(const char *json, size_t len, us_error *err);

/* Frees t and everything it owns. NULL-safe. */
void us_bpe_free(us_bpe *t);

/* The largest token id plus one (0 for NULL). Ids below it without a token
 * (holes) are outside the vocabulary all the same. */
int32_t us_bpe_vocab_size(const us_bpe *t);

/* Encodes text[0, len) (borrowed; any bytes: a byte that is not valid UTF-8
 * is one character of the "other" class, encoded through its byte token) into
 * token ids. On success *ids is owned by the caller (free()), never NULL, and
 * holds *n_ids ids; on failure *ids is NULL and *n_ids 0. Fails only for bad
 * arguments (NULL pointers, a text of 2^31 bytes or more) or when out of
 * memory. Time is O(n log n) in the longest piece and linear otherwise. */
us_status us_bpe_encode(const us_bpe *t, const uint8_t *text, size_t len, int32_t **ids,
                        size_t *n_ids, us_error *err);

/* Decodes ids[0, n) (borrowed) to the concatenation of their tokens' bytes.
 * On success *out is owned by the caller (free()), never NULL, holds
 * *out_len bytes plus a terminating NUL not counted in *out_len, and may be
 * invalid UTF-8 (a token can be part of a character). An id without a token
 * fails with US_ERR_RANGE naming the id and its position. */
us_status us_bpe_decode(const us_bpe *t, const int32_t *ids, size_t n, uint8_t **out,
                        size_t *out_len, us_error *err);

/* The bytes of token `id` (borrowed: valid while t lives; not NUL-terminated)
 * with their count in *len, or NULL (and *len 0) for an id without a token.
 * len may be NULL. */
const uint8_t *us_bpe_token_bytes(const us_bpe *t, int32_t id, size_t *len);

#endif /* US_TOKENIZER_BPE_H */
