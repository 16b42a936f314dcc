#include "pretokenize.h"

#include <stdlib.h>
#include <string.h>

#include "unicode.h"

/* ---- pre-type names (llama.cpp llama_vocab::impl::load) ----------------- */

typedef struct pre_name {
    const char *name;
    vl_pre_kind kind;
    int ignore_merges, add_bos, no_bos;
} pre_name;

static const pre_name k_pre_names[] = {
    { "default", VL_PRE_DEFAULT, 0, 0, 0 },
    { "llama3", VL_PRE_LLAMA3, 1, 1, 0 },
    { "llama-v3", VL_PRE_LLAMA3, 1, 1, 0 },
    { "llama-bpe", VL_PRE_LLAMA3, 1, 1, 0 },
    { "falcon3", VL_PRE_LLAMA3, 1, 1, 0 },
    { "falcon-h1", VL_PRE_LLAMA3, 1, 1, 0 },
    { "pixtral", VL_PRE_LLAMA3, 1, 1, 0 },
    { "midm-2.0", VL_PRE_LLAMA3, 1, 1, 0 },
    { "lfm2", VL_PRE_LLAMA3, 1, 1, 0 },
    { "jina-v5-nano", VL_PRE_LLAMA3, 1, 1, 0 },
    { "dbrx", VL_PRE_LLAMA3, 0, 0, 0 },
    { "smaug-bpe", VL_PRE_LLAMA3, 0, 0, 0 },
    { "glm4", VL_PRE_LLAMA3, 0, 0, 1 },
    { "chatglm-bpe", VL_PRE_LLAMA3, 0, 0, 1 },
    { "deepseek-llm", VL_PRE_DEEPSEEK_LLM, 0, 0, 0 },
    { "deepseek-coder", VL_PRE_DEEPSEEK_CODER, 0, 0, 0 },
    { "falcon", VL_PRE_FALCON, 0, 0, 0 },
    { "mpt", VL_PRE_GPT2, 0, 0, 0 },
    { "gpt-2", VL_PRE_GPT2, 0, 0, 0 },
    { "phi-2", VL_PRE_GPT2, 0, 0, 0 },
    { "jina-es", VL_PRE_GPT2, 0, 0, 0 },
    { "jina-de", VL_PRE_GPT2, 0, 0, 0 },
    { "gigachat", VL_PRE_GPT2, 0, 0, 0 },
    { "jina-v2-es", VL_PRE_GPT2, 0, 0, 0 },
    { "jina-v2-de", VL_PRE_GPT2, 0, 0, 0 },
    { "a.x-4.0", VL_PRE_GPT2, 0, 0, 0 },
    { "mellum", VL_PRE_GPT2, 0, 0, 0 },
    { "modern-bert", VL_PRE_GPT2, 0, 0, 0 },
    { "exaone4", VL_PRE_GPT2, 0, 0, 0 },
    { "olmo", VL_PRE_GPT2, 0, 0, 0 },
    { "jais", VL_PRE_GPT2, 0, 0, 0 },
    { "trillion", VL_PRE_GPT2, 0, 0, 0 },
    { "granite-docling", VL_PRE_GPT2, 0, 0, 0 },
    { "starcoder", VL_PRE_STARCODER, 0, 0, 0 },
    { "refact", VL_PRE_STARCODER, 0, 0, 0 },
    { "command-r", VL_PRE_STARCODER, 0, 0, 0 },
    { "smollm", VL_PRE_STARCODER, 0, 0, 0 },
    { "codeshell", VL_PRE_STARCODER, 0, 0, 0 },
    { "exaone", VL_PRE_STARCODER, 0, 0, 0 },
    { "minerva-7b", VL_PRE_STARCODER, 0, 0, 0 },
    { "mellum2", VL_PRE_STARCODER, 0, 0, 0 },
    { "qwen2", VL_PRE_QWEN2, 0, 0, 0 },
    { "deepseek-r1-qwen", VL_PRE_QWEN2, 0, 0, 0 },
    { "kormo", VL_PRE_QWEN2, 0, 0, 0 },
    { "f2llmv2", VL_PRE_QWEN2, 0, 0, 0 },
    { "megrez", VL_PRE_QWEN2, 0, 0, 0 },
    { "stablelm2", VL_PRE_QWEN2, 0, 0, 0 },
    { "hunyuan", VL_PRE_QWEN2, 0, 0, 0 },
    { "solar-open", VL_PRE_QWEN2, 0, 0, 0 },
};

int vl_pre_lookup(const char *name, size_t len, vl_pre_info *out)
{
    for (size_t i = 0; i < sizeof k_pre_names / sizeof k_pre_names[0]; i++) {
        const pre_name *p = &k_pre_names[i];
        if (strlen(p->name) == len && memcmp(p->name, name, len) == 0) {
            out->kind = p->kind;
            out->ignore_merges = p->ignore_merges;
            out->add_bos = p->add_bos;
            out->no_bos = p->no_bos;
            return 1;
        }
    }
    return 0;
}

vllm_status vl_sizes_push(vl_sizes *s, size_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        size_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot grow the word list to %zu entries", cap);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return VLLM_OK;
}

/* ---- splitting machinery -------------------------------------------------- */

typedef struct pre_ctx {
    const uint32_t *cpt;
    const uint16_t *flg;
} pre_ctx;

#define OUT_OF_RANGE 0xFFFFFFFFu
#define WS VL_CPT_WHITESPACE
#define LET VL_CPT_LETTER
#define NUM VL_CPT_NUMBER

/* One pattern applied to one segment [ini, end), appending the lengths of
 * the pieces it cuts the segment into. */
typedef vllm_status (*split_fn)(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out);

/* llama.cpp's hand-written splitters add a piece per matched alternative
 * and skip empty ones (_add_token). */
typedef struct cutter {
    vl_sizes *out;
    size_t prev;
    vllm_status st;
} cutter;

static void cut(cutter *k, size_t end)
{
    if (end > k->prev && k->st == VLLM_OK) k->st = vl_sizes_push(k->out, end - k->prev);
    k->prev = end;
}

/* Codepoint / class bits at p, or "nothing" outside the segment (these
 * are functions, not macros: callers pass expressions like ++pos). */
static inline uint32_t cpt_at(const pre_ctx *c, size_t ini, size_t end, size_t p)
{
    return p >= ini && p < end ? c->cpt[p] : OUT_OF_RANGE;
}

static inline uint16_t flg_at(const pre_ctx *c, size_t ini, size_t end, size_t p)
{
    return p >= ini && p < end ? c->flg[p] : 0;
}

/* Custom splitter of llama.cpp for the GPT-2 pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+  */
static vllm_status split_gpt2(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out)
{
#define CPT(p) cpt_at(c, ini, end, (p))
#define FLG(p) flg_at(c, ini, end, (p))
    cutter k = { out, ini, VLLM_OK };
    size_t pos = ini;
    while (pos < end) {
        uint32_t cpt = CPT(pos);
        uint16_t f = FLG(pos);
        if (cpt == '\'' && pos + 1 < end) {
            uint32_t n1 = CPT(pos + 1);
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                cut(&k, pos += 2);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = CPT(pos + 2);
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    cut(&k, pos += 3);
                    continue;
                }
            }
        }
        uint16_t f2 = cpt == ' ' ? FLG(pos + 1) : f;
        if (f2 & LET) {
            pos += cpt == ' ';
            while (f2 & LET) f2 = FLG(++pos);
            cut(&k, pos);
            continue;
        }
        if (f2 & NUM) {
            pos += cpt == ' ';
            while (f2 & NUM) f2 = FLG(++pos);
            cut(&k, pos);
            continue;
        }
        if (!(f2 & (WS | LET | NUM)) && f2) {
            pos += cpt == ' ';
            while (!(f2 & (WS | LET | NUM)) && f2) f2 = FLG(++pos);
            cut(&k, pos);
            continue;
        }
        size_t nws = 0;
        while (FLG(pos + nws) & WS) nws++;
        if (nws > 1 && CPT(pos + nws) != OUT_OF_RANGE) { /* \s+(?!\S) */
            pos += nws - 1;
            cut(&k, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            cut(&k, pos);
            continue;
        }
        cut(&k, ++pos);
    }
    return k.st;
}

/* llama.cpp's custom splitter for the llama3 pattern
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *    ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * With max_digits = 1 it is the qwen2 pattern (\p{N} instead of \p{N}{1,3}),
 * which llama.cpp runs through std::regex: every alternative then matches
 * exactly what this splitter cuts (ordered alternation, greedy runs, the
 * \s*[\r\n]+ backtrack ending at the last CR/LF of the whitespace run), and
 * some alternative always matches, so the results coincide. */
static vllm_status split_llama3_n(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out, size_t max_digits)
{
    cutter k = { out, ini, VLLM_OK };
    size_t pos = ini;
    while (pos < end) {
        uint32_t cpt = CPT(pos);
        uint16_t f = FLG(pos);
        if (cpt == '\'' && pos + 1 < end) {
            uint32_t n1 = vl_cpt_tolower(CPT(pos + 1));
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                cut(&k, pos += 2);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = vl_cpt_tolower(CPT(pos + 2));
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    cut(&k, pos += 3);
                    continue;
                }
            }
        }
        if (!(cpt == '\r' || cpt == '\n' || (f & NUM))) {
            if ((f & LET) || (FLG(pos + 1) & LET)) {
                pos++;
                while (FLG(pos) & LET) pos++;
                cut(&k, pos);
                continue;
            }
        }
        if (f & NUM) {
            size_t start = pos;
            while (FLG(pos) & NUM) {
                if (++pos - start >= max_digits) {
                    cut(&k, pos);
                    start = pos;
                }
            }
            cut(&k, pos);
            continue;
        }
        uint16_t f2 = cpt == ' ' ? FLG(pos + 1) : f;
        if (!(f2 & (WS | LET | NUM)) && f) {
            pos += cpt == ' ';
            while (!(f2 & (WS | LET | NUM)) && f2) f2 = FLG(++pos);
            uint32_t c2 = CPT(pos);
            while (c2 == '\r' || c2 == '\n') c2 = CPT(++pos);
            cut(&k, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (FLG(pos + nws) & WS) {
            uint32_t c2 = CPT(pos + nws);
            if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) {
            pos = last_rn;
            cut(&k, pos);
            continue;
        }
        if (nws > 1 && CPT(pos + nws) != OUT_OF_RANGE) {
            pos += nws - 1;
            cut(&k, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            cut(&k, pos);
            continue;
        }
        cut(&k, ++pos);
    }
    return k.st;
#undef CPT
#undef FLG
}

static vllm_status split_llama3(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out)
{
    return split_llama3_n(c, ini, end, out, 3);
}

static vllm_status split_qwen2(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out)
{
    return split_llama3_n(c, ini, end, out, 1);
}

/* ---- patterns llama.cpp evaluates with std::regex ----------------------------
 * Matchers return the length of the match starting at p (0: none). The
 * driver reproduces std::regex_iterator: leftmost match, text between
 * matches kept as its own piece. None of these patterns matches empty. */
typedef size_t (*match_fn)(const pre_ctx *c, size_t p, size_t end);

static vllm_status split_regex(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out, match_fn m)
{
    size_t gap = ini, p = ini;
    while (p < end) {
        size_t len = m(c, p, end);
        if (!len) {
            p++;
            continue;
        }
        if (p > gap) VL_TRY(vl_sizes_push(out, p - gap));
        VL_TRY(vl_sizes_push(out, len));
        p += len;
        gap = p;
    }
    if (end > gap) VL_TRY(vl_sizes_push(out, end - gap));
    return VLLM_OK;
}

/* Classes as llama.cpp's "collapsed" regex text sees them: ASCII stays
 * itself (so \p{P} there means its explicit ASCII punctuation list), any
 * other whitespace becomes \v, any other codepoint its category byte. */
static int is_ws(const pre_ctx *c, size_t p) { return (c->flg[p] & WS) != 0; }

static int col_number(const pre_ctx *c, size_t p)
{
    uint32_t u = c->cpt[p];
    if (u < 128) return u >= '0' && u <= '9';
    return !(c->flg[p] & WS) && (c->flg[p] & NUM);
}

static int col_letter(const pre_ctx *c, size_t p)
{
    uint32_t u = c->cpt[p];
    if (u < 128) return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z');
    return !(c->flg[p] & WS) && (c->flg[p] & LET);
}

static int ascii_punct(uint32_t u) /* !-#%-*,-/:-;?-@[-]_{} */
{
    return (u >= 0x21 && u <= 0x23) || (u >= 0x25 && u <= 0x2A) || (u >= 0x2C && u <= 0x2F) ||
           (u >= 0x3A && u <= 0x3B) || (u >= 0x3F && u <= 0x40) || (u >= 0x5B && u <= 0x5D) || u == 0x5F ||
           u == 0x7B || u == 0x7D;
}

static int col_punct(const pre_ctx *c, size_t p)
{
    uint32_t u = c->cpt[p];
    if (u < 128) return ascii_punct(u);
    return !(c->flg[p] & WS) && (c->flg[p] & VL_CPT_PUNCT);
}

/* [\p{P}\$\+<=>\^~\|] (default) and the same plus ` (falcon) */
static int col_default_punct(const pre_ctx *c, size_t p)
{
    uint32_t u = c->cpt[p];
    return col_punct(c, p) || u == '$' || u == '+' || u == '<' || u == '=' || u == '>' || u == '^' || u == '~' ||
           u == '|';
}

static int col_falcon_punct(const pre_ctx *c, size_t p) { return col_default_punct(c, p) || c->cpt[p] == '`'; }

/* Classes of patterns without \p{..}, which llama.cpp matches with
 * std::wregex on the codepoints after replacing non-ASCII whitespace by \v
 * (so such whitespace is never inside these classes). */
static int wide_member(const pre_ctx *c, size_t p)
{
    return !(c->cpt[p] >= 128 && (c->flg[p] & WS));
}

static int cjk(const pre_ctx *c, size_t p) /* [一-龥ࠀ-一가-퟿] */
{
    uint32_t u = c->cpt[p];
    return wide_member(c, p) && ((u >= 0x4E00 && u <= 0x9FA5) || (u >= 0x0800 && u <= 0x4E00) ||
                                 (u >= 0xAC00 && u <= 0xD7FF));
}

static int dsllm_letter(const pre_ctx *c, size_t p)
{
    return wide_member(c, p) &&
           vl_cpt_in_ranges(c->cpt[p], vl_class_deepseek_llm_letters, vl_class_deepseek_llm_letters_n);
}

static int dsllm_punct(const pre_ctx *c, size_t p)
{
    return wide_member(c, p) &&
           vl_cpt_in_ranges(c->cpt[p], vl_class_deepseek_llm_punct, vl_class_deepseek_llm_punct_n);
}

typedef int (*class_fn)(const pre_ctx *c, size_t p);

static size_t run(const pre_ctx *c, size_t p, size_t end, class_fn k)
{
    size_t q = p;
    while (q < end && k(c, q)) q++;
    return q - p;
}

/* \s?[K]+ : the optional whitespace is taken when a class member follows. */
static size_t ws_opt_run(const pre_ctx *c, size_t p, size_t end, class_fn k)
{
    if (is_ws(c, p) && p + 1 < end && k(c, p + 1)) return 1 + run(c, p + 1, end, k);
    return run(c, p, end, k);
}

static size_t m_number1(const pre_ctx *c, size_t p, size_t end) { (void)end; return col_number(c, p); }
static size_t m_number_run(const pre_ctx *c, size_t p, size_t end) { return run(c, p, end, col_number); }
static size_t m_crlf1(const pre_ctx *c, size_t p, size_t end)
{
    (void)end;
    return c->cpt[p] == '\r' || c->cpt[p] == '\n';
}
static size_t m_digits3(const pre_ctx *c, size_t p, size_t end)
{
    if (end - p < 3) return 0;
    for (size_t i = 0; i < 3; i++)
        if (c->cpt[p + i] < '0' || c->cpt[p + i] > '9') return 0;
    return 3;
}
static size_t m_default_punct(const pre_ctx *c, size_t p, size_t end) { return run(c, p, end, col_default_punct); }
static size_t m_falcon_punct(const pre_ctx *c, size_t p, size_t end) { return run(c, p, end, col_falcon_punct); }
static size_t m_ws_letters(const pre_ctx *c, size_t p, size_t end) { return ws_opt_run(c, p, end, col_letter); }
static size_t m_ws_punct(const pre_ctx *c, size_t p, size_t end) { return ws_opt_run(c, p, end, col_punct); }
static size_t m_cjk(const pre_ctx *c, size_t p, size_t end) { return run(c, p, end, cjk); }
static size_t m_ws_dsllm_letters(const pre_ctx *c, size_t p, size_t end) { return ws_opt_run(c, p, end, dsllm_letter); }
static size_t m_ws_dsllm_punct(const pre_ctx *c, size_t p, size_t end) { return ws_opt_run(c, p, end, dsllm_punct); }

#define REGEX_STAGE(name, matcher)                                                       \
    static vllm_status name(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out)     \
    {                                                                                    \
        return split_regex(c, ini, end, out, matcher);                                   \
    }
REGEX_STAGE(s_number1, m_number1)
REGEX_STAGE(s_number_run, m_number_run)
REGEX_STAGE(s_crlf1, m_crlf1)
REGEX_STAGE(s_digits3, m_digits3)
REGEX_STAGE(s_default_punct, m_default_punct)
REGEX_STAGE(s_falcon_punct, m_falcon_punct)
REGEX_STAGE(s_ws_letters, m_ws_letters)
REGEX_STAGE(s_ws_punct, m_ws_punct)
REGEX_STAGE(s_cjk, m_cjk)
REGEX_STAGE(s_ws_dsllm_letters, m_ws_dsllm_letters)
REGEX_STAGE(s_ws_dsllm_punct, m_ws_dsllm_punct)

/* \s+$ : only the whitespace run that reaches the end of the segment can
 * match, so cut it off directly (scanning every start would be quadratic
 * on long inner whitespace runs). */
static vllm_status s_trailing_ws(const pre_ctx *c, size_t ini, size_t end, vl_sizes *out)
{
    size_t k = end;
    while (k > ini && is_ws(c, k - 1)) k--;
    if (k > ini) VL_TRY(vl_sizes_push(out, k - ini));
    if (end > k) VL_TRY(vl_sizes_push(out, end - k));
    return VLLM_OK;
}

/* The regex lists of llama_tokenizer_bpe's constructor, in order. */
#define MAX_STAGES 6
static int stages_for(vl_pre_kind kind, split_fn st[MAX_STAGES])
{
    int n = 0;
    switch (kind) {
    case VL_PRE_DEFAULT:
        st[n++] = s_default_punct;
        st[n++] = split_gpt2;
        st[n++] = s_number_run;
        st[n++] = s_digits3;
        break;
    case VL_PRE_GPT2: st[n++] = split_gpt2; break;
    case VL_PRE_LLAMA3: st[n++] = split_llama3; break;
    case VL_PRE_QWEN2: st[n++] = split_qwen2; break;
    case VL_PRE_STARCODER:
        st[n++] = s_number1;
        st[n++] = split_gpt2;
        break;
    case VL_PRE_FALCON:
        st[n++] = s_falcon_punct;
        st[n++] = split_gpt2;
        st[n++] = s_digits3;
        break;
    case VL_PRE_DEEPSEEK_LLM:
        st[n++] = s_crlf1;
        st[n++] = s_ws_dsllm_letters;
        st[n++] = s_ws_dsllm_punct;
        st[n++] = s_trailing_ws;
        st[n++] = s_cjk;
        st[n++] = s_number_run;
        break;
    case VL_PRE_DEEPSEEK_CODER:
        st[n++] = s_crlf1;
        st[n++] = s_ws_letters;
        st[n++] = s_ws_punct;
        st[n++] = s_cjk;
        st[n++] = s_number1;
        break;
    }
    return n;
}

vllm_status vl_pretokenize(vl_pre_kind kind, const uint32_t *cpts, const uint16_t *flags, size_t n,
                           vl_sizes *out, vl_sizes *tmp)
{
    split_fn st[MAX_STAGES];
    int ns = stages_for(kind, st);
    pre_ctx c = { cpts, flags };
    /* each stage re-splits every piece of the previous one */
    tmp->n = 0;
    out->n = 0;
    if (n == 0) return VLLM_OK;
    VL_TRY(vl_sizes_push(tmp, n));
    for (int s = 0; s < ns; s++) {
        size_t start = 0;
        out->n = 0;
        for (size_t i = 0; i < tmp->n; i++) {
            VL_TRY(st[s](&c, start, start + tmp->v[i], out));
            start += tmp->v[i];
        }
        if (s + 1 < ns) {
            vl_sizes t = *tmp;
            *tmp = *out;
            *out = t;
        }
    }
    return VLLM_OK;
}
