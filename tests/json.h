/* JSON for tests: a document read with jansson and handed out as a tree
 * of plain nodes (objects keep their members in document order). */
#ifndef VL_TESTS_JSON_H
#define VL_TESTS_JSON_H

#include <stddef.h>

/* Node kinds (named apart from jansson's json_type / JSON_* so both
 * headers can be used together). */
typedef enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ } json_kind;

typedef struct json json;
struct json {
    json_kind type;
    double num;      /* NUM, BOOL */
    char *str;       /* STR (NUL-terminated, unescaped) */
    char *key;       /* member name when inside an object */
    json **items;    /* ARR / OBJ children */
    size_t n;
};

/* Parse text; NULL on a syntax error (the reason goes to stderr). Free
 * with json_free. */
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
