/* unicode_tables.h — the character classes of GPT-2's pre-tokenizer.
 *
 * GPT-2's pattern sorts every code point into one of four classes: letters
 * (\p{L}), numbers (\p{N}), white space (JS \s) and everything else. The
 * tables themselves live in unicode_tables.c, generated from Node's regex
 * engine by scripts/make_unicode_tables.mjs, so that our split matches
 * js-tiktoken's. Internal to the library. */
#ifndef US_TOKENIZER_UNICODE_TABLES_H
#define US_TOKENIZER_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef enum us_uc_class {
    US_UC_OTHER = 0,  /* [^\s\p{L}\p{N}], and every byte that is not valid UTF-8 */
    US_UC_LETTER = 1, /* \p{L} */
    US_UC_NUMBER = 2, /* \p{N} */
    US_UC_SPACE = 3   /* \s as JavaScript's u-flag regexes define it */
} us_uc_class;

extern const char us_uc_unicode_version[];   /* e.g. "17.0" */
extern const uint8_t us_uc_ascii[128];       /* class of U+0000..U+007F */
/* Sorted code points where the class changes, each (first << 2) | class;
 * the first entry is U+0000. */
extern const uint32_t us_uc_bounds[];
extern const size_t us_uc_n_bounds;

/* The class of code point cp (0..0x10FFFF). */
static inline us_uc_class us_uc_class_of(uint32_t cp) {
    if (cp < 128) return (us_uc_class)us_uc_ascii[cp];
    /* The last entry whose first code point is <= cp. */
    size_t lo = 0, hi = us_uc_n_bounds; /* us_uc_bounds[lo] <= cp < us_uc_bounds[hi] */
    uint32_t key = (cp << 2) | 3u;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (us_uc_bounds[mid] <= key) lo = mid;
        else hi = mid;
    }
    return (us_uc_class)(us_uc_bounds[lo] & 3u);
}

#endif /* US_TOKENIZER_UNICODE_TABLES_H */
