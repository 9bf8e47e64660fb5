/* json.c — the strict JSON parser declared in json.h.
 *
 * A recursive-descent parser over a borrowed text with an explicit cursor.
 * Containers collect their children in arrays grown by doubling; on any
 * failure the partly built value is freed before returning, so callers never
 * see half a tree. Recursion depth is bounded by max_depth. */
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct us_json_parser {
    const char *s;
    size_t len, pos;
    int max_depth;
    us_json_error *jerr;
} us_json_parser;

static us_status us_json_err(us_json_parser *p, size_t at, const char *what) {
    if (p->jerr) {
        p->jerr->offset = at;
        p->jerr->what = what;
    }
    return US_ERR_FORMAT;
}

const char *us_json_kind_name(us_json_kind k) {
    switch (k) {
    case US_JSON_NULL: return "null";
    case US_JSON_FALSE: return "false";
    case US_JSON_TRUE: return "true";
    case US_JSON_NUMBER: return "number";
    case US_JSON_STRING: return "string";
    case US_JSON_ARRAY: return "array";
    case US_JSON_OBJECT: return "object";
    }
    return "?";
}

size_t us_utf8_invalid_at(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;      /* no overlong 3-byte forms */
            if (c == 0xed) hi = 0x9f;      /* no UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;      /* no overlong 4-byte forms */
            if (c == 0xf4) hi = 0x8f;      /* nothing above U+10FFFF */
        } else {
            return i; /* stray continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if (len - i <= need) return i; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}

static void us_json_skip_ws(us_json_parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* The value of four hex digits at text offset `at`, or -1. */
static long us_json_hex4(const us_json_parser *p, size_t at) {
    if (p->len - at < 4 || at > p->len) return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        char c = p->s[at + k];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* p->pos is at the opening quote. Fills out->str / str_len (owned). The
 * unescaped text is never longer than the escaped one, so one allocation of
 * the raw length suffices. */
static us_status us_json_string(us_json_parser *p, us_json *out) {
    size_t open = p->pos;
    size_t i = open + 1;
    /* Find the closing quote first, stepping over escapes. */
    while (i < p->len && p->s[i] != '"') i += (p->s[i] == '\\') ? 2 : 1;
    if (i >= p->len) return us_json_err(p, open, "unterminated string");
    size_t close = i;
    char *buf = malloc(close - open);
    if (!buf) return US_ERR_OOM;
    size_t n = 0;
    for (i = open + 1; i < close;) {
        unsigned char c = (unsigned char)p->s[i];
        if (c < 0x20) {
            free(buf);
            return us_json_err(p, i, "control character in string (must be escaped)");
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            i++;
            continue;
        }
        char e = p->s[i + 1]; /* i + 1 < close: the scan above stepped over it */
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default:
            free(buf);
            return us_json_err(p, i, "invalid escape sequence in string");
        }
        if (simple) {
            buf[n++] = simple[0];
            i += 2;
            continue;
        }
        long cp = i + 6 <= close ? us_json_hex4(p, i + 2) : -1;
        if (cp < 0) {
            free(buf);
            return us_json_err(p, i, "\\u escape needs four hex digits");
        }
        size_t esc_len = 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            free(buf);
            return us_json_err(p, i, "unpaired low surrogate in \\u escape");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            long lo = (i + 12 <= close && p->s[i + 6] == '\\' && p->s[i + 7] == 'u')
                          ? us_json_hex4(p, i + 8)
                          : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
                free(buf);
                return us_json_err(p, i, "unpaired high surrogate in \\u escape");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            esc_len = 12;
        }
        if (cp < 0x80) {
            buf[n++] = (char)cp;
        } else if (cp < 0x800) {
            buf[n++] = (char)(0xc0 | (cp >> 6));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            buf[n++] = (char)(0xe0 | (cp >> 12));
            buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            buf[n++] = (char)(0xf0 | (cp >> 18));
            buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[n++] = (char)(0x80 | (cp & 0x3f));
        }
        i += esc_len;
    }
    buf[n] = '\0'; /* n <= close - open - 1 */
    out->kind = US_JSON_STRING;
    out->str = buf;
    out->str_len = n;
    p->pos = close + 1;
    return US_OK;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static us_status us_json_number(us_json_parser *p, us_json *out) {
    size_t i = p->pos, first = p->pos;
    const char *s = p->s;
    size_t len = p->len;
    if (i < len && s[i] == '-') i++;
    if (i >= len || s[i] < '0' || s[i] > '9') return us_json_err(p, i, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < len && s[i] >= '0' && s[i] <= '9')
            return us_json_err(p, first, "number with a leading zero");
    } else {
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9') return us_json_err(p, i, "digit expected after '.'");
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= len || s[i] < '0' || s[i] > '9') return us_json_err(p, i, "digit expected in exponent");
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    }
    out->kind = US_JSON_NUMBER;
    p->pos = i;
    return US_OK;
}

static us_status us_json_value(us_json_parser *p, us_json *out, int depth);

/* Grows the parallel arrays of a container to hold one more child. */
static us_status us_json_grow(us_json *v, size_t *cap, int with_keys) {
    if (v->n < *cap) return US_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    if (nc > SIZE_MAX / 2 / sizeof(us_json)) return US_ERR_OOM;
    us_json *items = realloc(v->items, nc * sizeof *items);
    if (!items) return US_ERR_OOM;
    v->items = items;
    if (with_keys) {
        us_json *keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys) return US_ERR_OOM;
        v->keys = keys;
    }
    *cap = nc;
    return US_OK;
}

/* p->pos at '[' or '{'. out->kind is set first so that us_json_free can
 * release a partly built container. */
static us_status us_json_container(us_json_parser *p, us_json *out, int depth) {
    int is_obj = p->s[p->pos] == '{';
    char closer = is_obj ? '}' : ']';
    if (depth >= p->max_depth)
        return us_json_err(p, p->pos, "nesting deeper than the allowed limit");
    out->kind = is_obj ? US_JSON_OBJECT : US_JSON_ARRAY;
    p->pos++;
    us_json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == closer) {
        p->pos++;
        return US_OK;
    }
    size_t cap = 0;
    for (;;) {
        us_status s = us_json_grow(out, &cap, is_obj);
        if (s != US_OK) return s;
        us_json key = {0}, item = {0};
        us_json_skip_ws(p);
        if (is_obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return us_json_err(p, p->pos, "expected a string key");
            key.start = p->pos;
            key.raw = p->s + p->pos;
            s = us_json_string(p, &key);
            if (s != US_OK) return s;
            key.end = p->pos;
            us_json_skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                us_json_free(&key);
                return us_json_err(p, p->pos, "expected ':' after an object key");
            }
            p->pos++;
        }
        s = us_json_value(p, &item, depth + 1);
        if (s != US_OK) {
            us_json_free(&key);
            return s;
        }
        if (is_obj) out->keys[out->n] = key;
        out->items[out->n] = item;
        out->n++;
        us_json_skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == closer) {
            p->pos++;
            return US_OK;
        }
        return us_json_err(p, p->pos, is_obj ? "expected ',' or '}' in object"
                                              : "expected ',' or ']' in array");
    }
}

/* Parses one value at p->pos (after optional whitespace) into *out, which is
 * zeroed on entry. On failure *out may hold a partial container: the caller
 * frees it (us_json_free handles any partial state). */
static us_status us_json_value(us_json_parser *p, us_json *out, int depth) {
    us_json_skip_ws(p);
    memset(out, 0, sizeof *out);
    if (p->pos >= p->len) return us_json_err(p, p->pos, "unexpected end of input");
    out->start = p->pos;
    out->raw = p->s + p->pos;
    char c = p->s[p->pos];
    us_status s;
    if (c == '{' || c == '[') {
        s = us_json_container(p, out, depth);
    } else if (c == '"') {
        s = us_json_string(p, out);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        s = us_json_number(p, out);
    } else {
        static const struct { const char *word; us_json_kind kind; } lits[] = {
            {"true", US_JSON_TRUE}, {"false", US_JSON_FALSE}, {"null", US_JSON_NULL}};
        s = us_json_err(p, p->pos, "unexpected character");
        for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
            size_t wl = strlen(lits[k].word);
            if (p->len - p->pos >= wl && memcmp(p->s + p->pos, lits[k].word, wl) == 0) {
                out->kind = lits[k].kind;
                p->pos += wl;
                s = US_OK;
                break;
            }
        }
    }
    if (s != US_OK) {
        us_json_free(out);
        return s;
    }
    out->end = p->pos;
    return US_OK;
}

us_status us_json_parse(const char *text, size_t len, int max_depth, us_json *out,
                        us_json_error *jerr) {
    if (!out) return US_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!text && len) return US_ERR_INVALID_ARG;
    us_json_parser p = {text, len, 0, max_depth, jerr};
    size_t bad = us_utf8_invalid_at((const uint8_t *)text, len);
    if (bad < len) return us_json_err(&p, bad, "invalid UTF-8");
    us_status s = us_json_value(&p, out, 0);
    if (s != US_OK) return s;
    us_json_skip_ws(&p);
    if (p.pos < len) {
        us_json_free(out);
        return us_json_err(&p, p.pos, "unexpected characters after the JSON value");
    }
    return US_OK;
}

void us_json_free(us_json *v) {
    if (!v) return;
    free(v->str);
    /* A container that failed mid-build holds n complete children. */
    for (size_t i = 0; i < v->n; i++) {
        us_json_free(&v->items[i]);
        if (v->keys) us_json_free(&v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

const char *us_json_show(const us_json *v, char *buf, size_t cap) {
    const char *s = v ? v->raw : NULL;
    size_t len = v && s ? v->end - v->start : 0, o = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!in_str && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) continue;
        /* an escape is copied whole: its second byte never ends the string */
        size_t k = in_str && c == '\\' && i + 1 < len ? 2 : 1;
        if (o + k > cap - 4) { /* keep room for "..." and the NUL */
            while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80) o--; /* continuations */
            if (o > 0 && (unsigned char)buf[o - 1] >= 0xc0) o--;              /* their lead */
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, s + i, k);
        o += k;
        i += k - 1;
        if (c == '"') in_str = !in_str;
    }
    buf[o] = '\0';
    return buf;
}

const char *us_json_uint(const us_json *v, uint64_t *out) {
    if (!v || v->kind != US_JSON_NUMBER) return "is not a number";
    const char *s = v->raw;
    size_t len = v->end - v->start;
    if (len && s[0] == '-') return "is negative";
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') return "has a fraction or exponent";
    const uint64_t limit = (uint64_t)1 << 53;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        x = x * 10 + (uint64_t)(s[i] - '0');
        if (x > limit) return "is larger than 2^53";
    }
    if (out) *out = x;
    return NULL;
}
