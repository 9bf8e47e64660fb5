/* test_index.c — the index-string parser: every form, and errors that point
 * at the offending character. */
#include <string.h>

#include "harness.h"
#include "unseal.h"

static us_status parse(const char *s, us_index *idx, us_error *err) {
    return us_index_parse(s, strlen(s), idx, err);
}

static void test_forms(void) {
    us_index idx;
    us_error err = {0};
    REQUIRE(parse(":,3,:", &idx, &err) == US_OK);
    CHECK(idx.n_items == 3);
    CHECK(idx.items[0].kind == US_INDEX_SLICE && !idx.items[0].has_start && !idx.items[0].has_stop && idx.items[0].step == 1);
    CHECK(idx.items[1].kind == US_INDEX_INT && idx.items[1].start == 3);
    us_index_free(&idx);

    REQUIRE(parse(" ..., 2:5 ", &idx, &err) == US_OK);
    CHECK(idx.n_items == 2 && idx.items[0].kind == US_INDEX_ELLIPSIS);
    CHECK(idx.items[1].kind == US_INDEX_SLICE && idx.items[1].start == 2 && idx.items[1].stop == 5);
    us_index_free(&idx);

    REQUIRE(parse("-1,::-2,[1, 4,-2],-3:", &idx, &err) == US_OK);
    CHECK(idx.n_items == 4);
    CHECK(idx.items[0].kind == US_INDEX_INT && idx.items[0].start == -1);
    CHECK(idx.items[1].step == -2 && !idx.items[1].has_start);
    CHECK(idx.items[2].kind == US_INDEX_LIST && idx.items[2].list_len == 3);
    CHECK(idx.list[idx.items[2].list_off + 2] == -2);
    CHECK(idx.items[3].has_start && idx.items[3].start == -3 && !idx.items[3].has_stop);
    us_index_free(&idx);

    REQUIRE(parse("", &idx, &err) == US_OK);
    CHECK(idx.n_items == 0);
    us_index_free(&idx);
}

static void test_errors_point_at_the_character(void) {
    static const struct { const char *s; const char *want; } cases[] = {
        {"1,,2", "position 2, found ','"},
        {"a", "position 0, found 'a'"},
        {"1:2:0", "non-zero slice step at position 4"},
        {"...,...", "at most one '...' at position 4"},
        {"[1,2", "',' or ']' in a list at position 4 (the end)"},
        {"[]", "a digit at position 1, found ']'"},
        {"1 2", "',' between items at position 2"},
        {"..", "'...' at position 0"},
        {"99999999999999999999", "below 2^53 at position 0"},
        {"eval('x')", "position 0, found 'e'"},
        {"1;2", "found ';'"},
        {"0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "at most 16 items"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        us_index idx;
        us_error err = {0};
        CHECK(parse(cases[i].s, &idx, &err) == US_ERR_FORMAT);
        if (!strstr(err.message, cases[i].want)) fprintf(stderr, "  '%s': %s\n", cases[i].s, err.message);
        CHECK(strstr(err.message, cases[i].want) != NULL);
        CHECK(idx.n_items == 0 && idx.list == NULL);
    }
    /* a NUL byte inside the text is an error, not the end */
    us_index idx;
    us_error err = {0};
    CHECK(us_index_parse("1\0" "2", 3, &idx, &err) == US_ERR_FORMAT);
    CHECK(strstr(err.message, "byte 0x00") != NULL);
}

int main(void) {
    US_RUN(test_forms);
    US_RUN(test_errors_point_at_the_character);
    return us_harness_summary();
}
