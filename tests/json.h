/* A small JSON reader for tests: parses a whole document into a tree of
 * nodes (objects keep key order). Enough for the fixture files. */
#ifndef VL_TESTS_JSON_H
#define VL_TESTS_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } json_type;

typedef struct json json;
struct json {
    json_type type;
    double num;      /* NUM, BOOL */
    char *str;       /* STR (NUL-terminated, unescaped) */
    char *key;       /* member name when inside an object */
    json **items;    /* ARR / OBJ children */
    size_t n;
};

/* Parse text; NULL on a syntax error. Free with json_free. */
json *json_parse(const char *text, size_t len);
/* Read and parse a file; NULL if missing or invalid. */
json *json_load(const char *path);
void json_free(json *j);

const json *json_get(const json *obj, const char *key);  /* NULL if absent */
const json *json_at(const json *arr, size_t i);          /* NULL if out of range */
double json_num(const json *j, double def);
const char *json_str(const json *j, const char *def);

/* Read a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *read_file_all(const char *path, size_t *len);

#endif
