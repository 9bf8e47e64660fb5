/* pretokenize.c — the GPT-2 pre-tokenizer scanner declared in pretokenize.h.
 *
 * How the pattern behaves, alternative by alternative, when a regex engine
 * tries it at position i (the first alternative that matches wins):
 *
 *   1. 's 't 're 've 'm 'll 'd — an ASCII apostrophe and exactly these
 *      lower-case letters (the pattern has no i flag, so "'LL" is not one).
 *   2-4. " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" — an optional U+0020
 *      and then a maximal run of one class. If s[i] is a space followed by a
 *      character of class X that is not white space, the piece is the space
 *      plus the run of X; if s[i] itself is not white space, the piece is the
 *      run of s[i]'s class. Greedy runs never need to give back characters,
 *      because nothing follows them in their alternative.
 *   5. "\s+(?!\S)" — a run of white space, backed off until the next
 *      character is not a non-space: the whole run at the end of the text,
 *      else the run minus its last character (which then starts the next
 *      piece, usually " word"), provided that leaves at least one character.
 *   6. "\s+" — otherwise (a single white-space character before a
 *      non-space), that one character.
 *
 * Every character is in exactly one class, so some alternative always
 * matches and the pieces tile the text. */
#include "tokenizer/pretokenize.h"

size_t us_utf8_decode(const uint8_t *s, size_t len, size_t i, uint32_t *cp) {
    uint8_t c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    uint32_t v;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        v = c & 0x0f;
        if (c == 0xe0) lo = 0xa0; /* no overlong 3-byte forms */
        if (c == 0xed) hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xf0) lo = 0x90; /* no overlong 4-byte forms */
        if (c == 0xf4) hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        *cp = US_UTF8_INVALID;
        return 1;
    }
    if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi) {
        *cp = US_UTF8_INVALID;
        return 1;
    }
    v = (v << 6) | (s[i + 1] & 0x3fu);
    for (size_t k = 2; k <= need; k++) {
        if ((s[i + k] & 0xc0) != 0x80) {
            *cp = US_UTF8_INVALID;
            return 1;
        }
        v = (v << 6) | (s[i + k] & 0x3fu);
    }
    *cp = v;
    return need + 1;
}

us_uc_class us_char_class(const uint8_t *s, size_t len, size_t i, size_t *clen) {
    if (s[i] < 0x80) {
        *clen = 1;
        return (us_uc_class)us_uc_ascii[s[i]];
    }
    uint32_t cp;
    *clen = us_utf8_decode(s, len, i, &cp);
    return cp == US_UTF8_INVALID ? US_UC_OTHER : us_uc_class_of(cp);
}

/* The end of the maximal run of class cls that starts at s[i]. */
static size_t us_run_end(const uint8_t *s, size_t len, size_t i, us_uc_class cls) {
    while (i < len) {
        size_t clen;
        if (us_char_class(s, len, i, &clen) != cls) break;
        i += clen;
    }
    return i;
}

size_t us_gpt2_piece_end(const uint8_t *s, size_t len, size_t i) {
    /* 1. contractions */
    if (s[i] == '\'' && len - i >= 2) {
        uint8_t a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (len - i >= 3) {
            uint8_t b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return i + 3;
        }
    }
    /* 2-4. an optional space, then a run of letters, numbers or others */
    size_t clen;
    us_uc_class cls = us_char_class(s, len, i, &clen);
    if (s[i] == ' ' && len - i >= 2) {
        size_t nlen;
        us_uc_class next = us_char_class(s, len, i + 1, &nlen);
        if (next != US_UC_SPACE) return us_run_end(s, len, i + 1 + nlen, next);
    }
    if (cls != US_UC_SPACE) return us_run_end(s, len, i + clen, cls);
    /* 5-6. white space: the run, minus its last character unless that ends
     * the text or would leave nothing */
    size_t last = i, j = i + clen;
    while (j < len) {
        size_t jl;
        if (us_char_class(s, len, j, &jl) != US_UC_SPACE) break;
        last = j;
        j += jl;
    }
    if (j == len || last == i) return j;
    return last;
}
