#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p, *end;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static json *node(json_type t)
{
    json *j = calloc(1, sizeof *j);
    if (j) j->type = t;
    return j;
}

static int put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xc0 | cp >> 6); out[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 63)); out[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 63));
    out[2] = (char)(0x80 | ((cp >> 6) & 63)); out[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    return 1;
}

static char *parse_string(parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '"') return NULL;
    ps->p++;
    char *out = malloc((size_t)(ps->end - ps->p) + 1), *o = out;
    if (!out) return NULL;
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c != '\\') { *o++ = c; continue; }
        if (ps->p >= ps->end) break;
        c = *ps->p++;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 4 || !hex4(ps->p, &cp)) { free(out); return NULL; }
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned lo;
                if (hex4(ps->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                }
            }
            o += put_utf8(o, cp);
            break;
        }
        default: *o++ = c; break;
        }
    }
    if (ps->p >= ps->end) { free(out); return NULL; }
    ps->p++;
    *o = '\0';
    return out;
}

static json *parse_value(parser *ps);

static int push(json *parent, json *child)
{
    json **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items) return 0;
    parent->items = items;
    items[parent->n++] = child;
    return 1;
}

static json *parse_container(parser *ps, int is_obj)
{
    json *j = node(is_obj ? JSON_OBJ : JSON_ARR);
    if (!j) return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (is_obj ? '}' : ']')) { ps->p++; return j; }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (is_obj) {
            key = parse_string(ps);
            skip_ws(ps);
            if (!key || ps->p >= ps->end || *ps->p != ':') { free(key); json_free(j); return NULL; }
            ps->p++;
        }
        json *v = parse_value(ps);
        if (!v || !push(j, v)) { free(key); json_free(v); json_free(j); return NULL; }
        v->key = key;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == (is_obj ? '}' : ']')) { ps->p++; return j; }
        json_free(j);
        return NULL;
    }
}

static json *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end || ps->depth > 64) return NULL;
    char c = *ps->p;
    json *j = NULL;
    if (c == '{' || c == '[') {
        ps->depth++;
        j = parse_container(ps, c == '{');
        ps->depth--;
    } else if (c == '"') {
        char *s = parse_string(ps);
        if (s && (j = node(JSON_STR))) j->str = s; else free(s);
    } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
        j = node(JSON_BOOL);
        if (j) j->num = c == 't';
        ps->p += c == 't' ? 4 : 5;
    } else if (!strncmp(ps->p, "null", 4)) {
        j = node(JSON_NULL);
        ps->p += 4;
    } else {
        char *endp;
        double v = strtod(ps->p, &endp);
        if (endp == ps->p) return NULL;
        ps->p = endp;
        if ((j = node(JSON_NUM))) j->num = v;
    }
    return j;
}

json *json_parse(const char *text, size_t len)
{
    parser ps = {text, text + len, 0};
    json *j = parse_value(&ps);
    skip_ws(&ps);
    if (j && ps.p != ps.end) { json_free(j); return NULL; }
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
    if (!obj || obj->type != JSON_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (obj->items[i]->key && !strcmp(obj->items[i]->key, key)) return obj->items[i];
    return NULL;
}

const json *json_at(const json *arr, size_t i)
{
    if (!arr || (arr->type != JSON_ARR && arr->type != JSON_OBJ) || i >= arr->n) return NULL;
    return arr->items[i];
}

double json_num(const json *j, double def) { return j && (j->type == JSON_NUM || j->type == JSON_BOOL) ? j->num : def; }

const char *json_str(const json *j, const char *def) { return j && j->type == JSON_STR ? j->str : def; }
