/* json.h — a small, strict JSON (RFC 8259) parser for file headers.
 *
 * It builds a tree of us_json values from a borrowed text. Strictness is the
 * point: the whole text must be valid UTF-8; strings may not hold raw control
 * characters and are fully unescaped (\uXXXX, surrogate pairs joined, lone
 * surrogates rejected); numbers follow the JSON grammar exactly (no leading
 * zeros, no "+", no NaN); nothing but whitespace may follow the value;
 * containers may not nest deeper than a caller-chosen limit (so recursion is
 * bounded). Duplicate object keys are kept, in order, for the caller to judge.
 *
 * Internal to the library: not part of include/unseal.h. */
#ifndef US_IO_JSON_H
#define US_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "unseal.h"

typedef enum us_json_kind {
    US_JSON_NULL = 0,
    US_JSON_FALSE,
    US_JSON_TRUE,
    US_JSON_NUMBER,
    US_JSON_STRING,
    US_JSON_ARRAY,
    US_JSON_OBJECT
} us_json_kind;

typedef struct us_json {
    us_json_kind kind;
    size_t start, end;      /* the value's bytes [start, end) in the source text */
    const char *raw;        /* borrowed: source text + start (NUMBER: the token) */
    char *str;              /* STRING: owned, unescaped UTF-8, NUL-terminated; may
                             * itself contain NUL bytes (from \u0000) */
    size_t str_len;         /* STRING: bytes in str, not counting the terminator */
    size_t n;               /* ARRAY: items; OBJECT: members */
    struct us_json *items;  /* ARRAY/OBJECT: owned array of n values */
    struct us_json *keys;   /* OBJECT: owned array of n STRING values; keys[i] names items[i] */
} us_json;

/* Where and why parsing failed. `what` points to static storage. */
typedef struct us_json_error {
    size_t offset; /* byte offset in the text */
    const char *what;
} us_json_error;

/* Parses all of text[0, len) (borrowed; must outlive *out, whose `raw`
 * pointers point into it) as one JSON value nested at most max_depth
 * containers deep. Returns US_OK with *out owned by the caller (release with
 * us_json_free), US_ERR_FORMAT with *jerr filled, or US_ERR_OOM. On failure
 * *out is left as an empty NULL value. jerr may be NULL. */
us_status us_json_parse(const char *text, size_t len, int max_depth, us_json *out,
                        us_json_error *jerr);

/* Frees what v owns (recursively) and resets it to a NULL value. NULL-safe. */
void us_json_free(us_json *v);

/* Offset of the first byte of s[0, len) that does not belong to well-formed
 * UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), or len
 * when all of it is valid. */
size_t us_utf8_invalid_at(const uint8_t *s, size_t len);

/* Reads a NUMBER as an exact non-negative integer no larger than 2^53.
 * Returns NULL and sets *out on success, otherwise a static reason ("is not a
 * number", "is negative", "has a fraction or exponent", "is larger than
 * 2^53"). */
const char *us_json_uint(const us_json *v, uint64_t *out);

/* Writes v's source text into buf (cap >= 8) for an error message: compact
 * (white space outside strings dropped), strings as written (escapes kept),
 * cut at a UTF-8 boundary with "..." when longer than cap - 1. Always
 * NUL-terminated; returns buf. */
const char *us_json_show(const us_json *v, char *buf, size_t cap);

/* "null", "false", "true", "number", "string", "array" or "object". */
const char *us_json_kind_name(us_json_kind k);

#endif /* US_IO_JSON_H */
