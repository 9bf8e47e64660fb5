/* pretokenize.h — GPT-2's pre-tokenizer as a hand-written scanner.
 *
 * GPT-2 splits text into pieces with the pattern
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * and byte-pair-encodes each piece on its own. us_gpt2_piece_end reproduces
 * the pattern as js-tiktoken applies it (a JavaScript regex with the u flag,
 * matched again and again from where the last match ended) without a regex
 * engine, using the classes of unicode_tables.h. Input is any bytes: a byte
 * that does not start a well-formed UTF-8 sequence is one character of class
 * "other", as the U+FFFD a UTF-8 decoder would put in its place.
 * Internal to the library. */
#ifndef US_TOKENIZER_PRETOKENIZE_H
#define US_TOKENIZER_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/unicode_tables.h"

/* Decodes the character at s[i] (i < len). Returns its length in bytes (1..4)
 * and stores its code point in *cp, or returns 1 and stores US_UTF8_INVALID
 * when s[i] does not start a well-formed sequence (stray continuation byte,
 * overlong form, surrogate, above U+10FFFF, or truncated). */
#define US_UTF8_INVALID 0xffffffffu
size_t us_utf8_decode(const uint8_t *s, size_t len, size_t i, uint32_t *cp);

/* The class of the character at s[i] (i < len); its length goes to *clen. */
us_uc_class us_char_class(const uint8_t *s, size_t len, size_t i, size_t *clen);

/* The end of the GPT-2 piece that starts at s[i] (i < len): a value in
 * (i, len]. Calling it again from the returned position walks the whole text;
 * the total work is linear in len. */
size_t us_gpt2_piece_end(const uint8_t *s, size_t len, size_t i);

#endif /* US_TOKENIZER_PRETOKENIZE_H */
