/* The tests' JSON reader: jansson parses, this file only copies jansson's
 * tree into the plain nodes of json.h. */
#include "json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static json *convert(json_t *v);

/* Children of an array or object, in document order. */
static int convert_children(json_t *v, json *out)
{
    const size_t n = json_is_array(v) ? json_array_size(v) : json_object_size(v);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) return -1;
    if (json_is_array(v)) {
        for (size_t i = 0; i < n; i++) {
            if (!(out->items[out->n] = convert(json_array_get(v, i)))) return -1;
            out->n++;
        }
        return 0;
    }
    const char *key;
    json_t *member;
    json_object_foreach(v, key, member) {
        json *c = convert(member);
        if (!c) return -1;
        out->items[out->n++] = c;
        if (!(c->key = dup_bytes(key, strlen(key)))) return -1;
    }
    return 0;
}

static json *convert(json_t *v)
{
    json *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: j->type = JV_OBJ; rc = convert_children(v, j); break;
    case JSON_ARRAY: j->type = JV_ARR; rc = convert_children(v, j); break;
    case JSON_STRING:
        j->type = JV_STR;
        j->str = dup_bytes(json_string_value(v), json_string_length(v));
        rc = j->str ? 0 : -1;
        break;
    case JSON_INTEGER: case JSON_REAL: j->type = JV_NUM; j->num = json_number_value(v); break;
    case JSON_TRUE: j->type = JV_BOOL; j->num = 1; break;
    case JSON_FALSE: j->type = JV_BOOL; j->num = 0; break;
    case JSON_NULL: j->type = JV_NULL; break;
    }
    if (rc != 0) {
        json_free(j);
        return NULL;
    }
    return j;
}

json *json_parse(const char *text, size_t len)
{
    json_error_t err;
    /* numbers as doubles, as the fixtures' readers compare them */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    if (!root) {
        fprintf(stderr, "json: %s at line %d column %d\n", err.text, err.line, err.column);
        return NULL;
    }
    json *j = convert(root);
    json_decref(root);
    return j;
}

char *read_file_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = '\0'; if (len) *len = (size_t)n; }
    return buf;
}

json *json_load(const char *path)
{
    size_t n;
    char *text = read_file_all(path, &n);
    if (!text) return NULL;
    json *j = json_parse(text, n);
    free(text);
    return j;
}

void json_free(json *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->n; i++) json_free(j->items[i]);
    free(j->items);
    free(j->str);
    free(j->key);
    free(j);
}

const json *json_get(const json *obj, const char *key)
{
    if (!obj || obj->type != JV_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (obj->items[i]->key && !strcmp(obj->items[i]->key, key)) return obj->items[i];
    return NULL;
}

const json *json_at(const json *arr, size_t i)
{
    if (!arr || (arr->type != JV_ARR && arr->type != JV_OBJ) || i >= arr->n) return NULL;
    return arr->items[i];
}

double json_num(const json *j, double def) { return j && (j->type == JV_NUM || j->type == JV_BOOL) ? j->num : def; }

const char *json_str(const json *j, const char *def) { return j && j->type == JV_STR ? j->str : def; }
