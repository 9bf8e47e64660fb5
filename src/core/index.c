/* index.c — the index-string parser (see us_index_parse in unseal.h).
 *
 * Grammar, with optional spaces between tokens:
 *   index := item ("," item)*        (an empty string is zero items)
 *   item  := "..." | int | slice | list
 *   slice := [int] ":" [int] [":" [int]]
 *   list  := "[" int ("," int)* "]"
 *   int   := ["-" | "+"] digit+      (|value| < 2^53)
 * At most one "...", at most US_INDEX_MAX_ITEMS items, step != 0. */
#include <stdlib.h>
#include <string.h>

#include "unseal.h"

typedef struct scanner {
    const char *s;
    size_t len, pos;
    us_error *err;
} scanner;

static void skip_spaces(scanner *sc) {
    while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t')) sc->pos++;
}

static int peek(scanner *sc) {
    skip_spaces(sc);
    return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

/* "position 3 ('x')" or "the end" for messages. */
static us_status fail_at(scanner *sc, const char *expected) {
    if (sc->pos >= sc->len)
        return us_fail(sc->err, US_ERR_FORMAT, "index string \"%.*s\": expected %s at position %zu (the end)",
                       (int)(sc->len > 200 ? 200 : sc->len), sc->s, expected, sc->pos);
    unsigned char c = (unsigned char)sc->s[sc->pos];
    if (c >= 0x20 && c < 0x7f)
        return us_fail(sc->err, US_ERR_FORMAT, "index string \"%.*s\": expected %s at position %zu, found '%c'",
                       (int)(sc->len > 200 ? 200 : sc->len), sc->s, expected, sc->pos, c);
    return us_fail(sc->err, US_ERR_FORMAT, "index string: expected %s at position %zu, found byte 0x%02x", expected,
                   sc->pos, c);
}

static int is_int_start(int c) { return c == '-' || c == '+' || (c >= '0' && c <= '9'); }

static us_status parse_int(scanner *sc, int64_t *v) {
    skip_spaces(sc);
    size_t start = sc->pos;
    int neg = 0;
    if (sc->pos < sc->len && (sc->s[sc->pos] == '-' || sc->s[sc->pos] == '+')) neg = sc->s[sc->pos++] == '-';
    if (sc->pos >= sc->len || sc->s[sc->pos] < '0' || sc->s[sc->pos] > '9') return fail_at(sc, "a digit");
    int64_t x = 0;
    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9') {
        x = x * 10 + (sc->s[sc->pos++] - '0');
        if (x > ((int64_t)1 << 53)) {
            sc->pos = start;
            return fail_at(sc, "an integer of magnitude below 2^53");
        }
    }
    *v = neg ? -x : x;
    return US_OK;
}

static us_status push_list(us_index *idx, int32_t *cap, int64_t v, us_error *err) {
    if (idx->n_list == *cap) {
        if (*cap > INT32_MAX / 2) /* 2^30 entries: a string of gigabytes */
            return us_fail(err, US_ERR_RANGE, "index string: more than 2^30 list entries");
        int32_t nc = *cap ? *cap * 2 : 8;
        int64_t *l = realloc(idx->list, sizeof *l * (size_t)nc);
        if (!l) return us_fail(err, US_ERR_OOM, "index string: out of memory");
        idx->list = l;
        *cap = nc;
    }
    idx->list[idx->n_list++] = v;
    return US_OK;
}

static us_status parse_item(scanner *sc, us_index *idx, int32_t *cap, int *seen_ellipsis) {
    us_index_item it;
    memset(&it, 0, sizeof it);
    int c = peek(sc);
    if (c == '.') {
        if (sc->len - sc->pos < 3 || memcmp(sc->s + sc->pos, "...", 3) != 0) return fail_at(sc, "'...'");
        if (*seen_ellipsis) return fail_at(sc, "at most one '...'");
        *seen_ellipsis = 1;
        sc->pos += 3;
        it.kind = US_INDEX_ELLIPSIS;
    } else if (c == '[') {
        sc->pos++;
        it.kind = US_INDEX_LIST;
        it.list_off = idx->n_list;
        for (;;) {
            int64_t v;
            us_status s = parse_int(sc, &v);
            if (s == US_OK) s = push_list(idx, cap, v, sc->err);
            if (s != US_OK) return s;
            it.list_len++;
            c = peek(sc);
            if (c == ',') {
                sc->pos++;
                continue;
            }
            if (c == ']') {
                sc->pos++;
                break;
            }
            return fail_at(sc, "',' or ']' in a list");
        }
    } else if (c == ':' || is_int_start(c)) {
        int64_t first = 0;
        int has_first = 0;
        if (c != ':') {
            us_status s = parse_int(sc, &first);
            if (s != US_OK) return s;
            has_first = 1;
        }
        if (peek(sc) != ':') {
            it.kind = US_INDEX_INT;
            it.start = first;
        } else {
            sc->pos++;
            it.kind = US_INDEX_SLICE;
            it.has_start = has_first;
            it.start = first;
            it.step = 1;
            if (is_int_start(peek(sc))) {
                us_status s = parse_int(sc, &it.stop);
                if (s != US_OK) return s;
                it.has_stop = 1;
            }
            if (peek(sc) == ':') {
                sc->pos++;
                if (is_int_start(peek(sc))) {
                    size_t at = sc->pos;
                    us_status s = parse_int(sc, &it.step);
                    if (s != US_OK) return s;
                    if (it.step == 0) {
                        sc->pos = at;
                        return fail_at(sc, "a non-zero slice step");
                    }
                }
            }
        }
    } else {
        return fail_at(sc, "an integer, ':', '...' or '['");
    }
    if (idx->n_items == US_INDEX_MAX_ITEMS) return fail_at(sc, "at most 16 items");
    idx->items[idx->n_items++] = it;
    return US_OK;
}

us_status us_index_parse(const char *s, size_t len, us_index *out, us_error *err) {
    if (!out) return us_fail(err, US_ERR_INVALID_ARG, "index string: NULL output");
    memset(out, 0, sizeof *out);
    if (!s && len) return us_fail(err, US_ERR_INVALID_ARG, "index string: NULL text");
    scanner sc = {s, len, 0, err};
    int32_t cap = 0;
    int seen_ellipsis = 0;
    us_status st = US_OK;
    if (peek(&sc) != -1) {
        for (;;) {
            st = parse_item(&sc, out, &cap, &seen_ellipsis);
            if (st != US_OK) break;
            int c = peek(&sc);
            if (c == -1) break;
            if (c != ',') {
                st = fail_at(&sc, "',' between items");
                break;
            }
            sc.pos++;
        }
    }
    if (st != US_OK) us_index_free(out);
    return st;
}

void us_index_free(us_index *idx) {
    if (!idx) return;
    free(idx->list);
    memset(idx, 0, sizeof *idx);
}
