/*
 * The Redis lock's wire protocol (version 1): the JSON records that travel
 * on the lock channel, built and parsed with cJSON, never by hand, because
 * anybody who can PUBLISH on the channel can send anything. Also the
 * CLIENT LIST parsing that picks the dead subscribers to reap.
 */
#include "redis_internal.h"
#include "platform.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"shared", "pending", "exclusive"};

const char *pl__redis_mode_name(int mode)
{
    if (mode < PL_RMODE_SHARED || mode > PL_RMODE_EXCLUSIVE)
        return "exclusive";
    return mode_names[mode];
}

void pl__redis_new_id(char out[PL_REDIS_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int i;
    for (i = 0; i < PL_REDIS_ID_LEN; i += 16) {
        unsigned long long v = pl__os_random();
        int j;
        for (j = 0; j < 16; j++, v >>= 4)
            out[i + j] = hex[v & 0xf];
    }
    out[PL_REDIS_ID_LEN] = '\0';
}

int pl__redis_parse_ping(const char *payload, size_t len, char **resp,
                         size_t *resp_len)
{
    cJSON *root, *rc;
    int found = 0;
    *resp = NULL;
    *resp_len = 0;
    /* A ping is a few dozen bytes; a huge payload is not worth parsing. */
    if (!payload || len == 0 || len > PL_REDIS_MAX_PING)
        return 0;
    /* cJSON limits nesting (CJSON_NESTING_LIMIT) and length-bounds the
       parse, so deep or unterminated input just fails to parse. */
    root = cJSON_ParseWithLength(payload, len);
    if (!root)
        return 0;
    rc = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(
                                    root, "response_channel")
                              : NULL;
    if (rc && cJSON_IsString(rc) && rc->valuestring && rc->valuestring[0]) {
        size_t n = strlen(rc->valuestring);
        char *copy = malloc(n + 1);
        if (!copy) {
            cJSON_Delete(root);
            return PL_ERR_NO_MEMORY;
        }
        memcpy(copy, rc->valuestring, n + 1);
        *resp = copy;
        *resp_len = n;
        found = 1;
    }
    cJSON_Delete(root);
    return found;
}

static char *print_and_free(cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    char *copy = NULL;
    if (text) {
        /* Hand out plain malloc memory, whatever allocator cJSON uses. */
        copy = pl__strdup(text);
        cJSON_free(text);
    }
    cJSON_Delete(obj);
    return copy;
}

char *pl__redis_build_ping(const char *resp)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "message", "ping") ||
        !cJSON_AddStringToObject(obj, "response_channel", resp)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return print_and_free(obj);
}

char *pl__redis_build_answer(const char *holder_id, int mode, int elected)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "holder_id", holder_id) ||
        !cJSON_AddStringToObject(obj, "mode", pl__redis_mode_name(mode)) ||
        !cJSON_AddNumberToObject(obj, "protocol", PL_REDIS_PROTOCOL) ||
        !cJSON_AddBoolToObject(obj, "elected", elected ? 1 : 0)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return print_and_free(obj);
}

static int mode_from_name(const char *name)
{
    int i;
    for (i = PL_RMODE_SHARED; i <= PL_RMODE_EXCLUSIVE; i++)
        if (strcmp(name, mode_names[i]) == 0)
            return i;
    return -1;
}

int pl__redis_parse_answer(const char *payload, size_t len, int legacy_index,
                           pl_redis_holder *out)
{
    cJSON *root = NULL;
    char legacy_id[32];
    memset(out, 0, sizeof *out);
    if (payload && len > 0 && len <= PL_REDIS_MAX_PING)
        root = cJSON_ParseWithLength(payload, len);
    if (cJSON_IsObject(root)) {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "holder_id");
        cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
        cJSON *proto = cJSON_GetObjectItemCaseSensitive(root, "protocol");
        int m = cJSON_IsString(mode) ? mode_from_name(mode->valuestring) : -1;
        if (cJSON_IsNumber(proto) && proto->valuedouble == PL_REDIS_PROTOCOL &&
            cJSON_IsString(id) && m >= 0) {
            cJSON *el = cJSON_GetObjectItemCaseSensitive(root, "elected");
            out->id = pl__strdup(id->valuestring);
            out->mode = m;
            /* A non-boolean `elected` reads as absent (an older peer). */
            out->elected = cJSON_IsBool(el) ? (cJSON_IsTrue(el) ? 1 : 0) : -1;
            cJSON_Delete(root);
            return out->id ? PL_OK : PL_ERR_NO_MEMORY;
        }
    }
    cJSON_Delete(root);
    /* Not a protocol-1 record (a 3.2 timestamp, garbage, a future mode):
       pessimistically an exclusive holder that blocks everybody. */
    snprintf(legacy_id, sizeof legacy_id, "legacy-%d", legacy_index);
    out->id = pl__strdup(legacy_id);
    out->mode = PL_RMODE_EXCLUSIVE;
    out->legacy = 1;
    out->elected = -1;
    return out->id ? PL_OK : PL_ERR_NO_MEMORY;
}

int pl__redis_nameable(const char *channel, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if ((unsigned char)channel[i] < '!' || (unsigned char)channel[i] > '~')
            return 0;
    return len > 0;
}

int pl__redis_json_safe(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n, k;
        unsigned cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return 0;
        for (k = 1; k <= n; k++) {
            if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong, surrogate or beyond U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += n + 1;
    }
    return 1;
}

/* ---- reaping ---- */

static int is_hex_id(const char *s, size_t n)
{
    size_t i;
    if (n != PL_REDIS_ID_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The value of field `key` ("id=", "name=") in one CLIENT LIST line. */
static const char *field(const char *line, size_t len, const char *key,
                         size_t *vlen)
{
    size_t klen = strlen(key), i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && line[end] != ' ')
            end++;
        if (end - i >= klen && memcmp(line + i, key, klen) == 0) {
            *vlen = end - i - klen;
            return line + i + klen;
        }
        i = end + 1;
    }
    return NULL;
}

static int answered_by(const pl_redis_holder *h, size_t n, const char *id,
                       size_t idlen)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!h[i].legacy && strlen(h[i].id) == idlen &&
            memcmp(h[i].id, id, idlen) == 0)
            return 1;
    return 0;
}

static int unavailable(const char *name, size_t nlen, const char *channel,
                       size_t clen, const pl_redis_holder *h, size_t nh,
                       int legacy_answered)
{
    static const char suffix[] = "-lock";
    size_t slen = sizeof suffix - 1;
    if (nlen < clen + slen || memcmp(name, channel, clen) != 0 ||
        memcmp(name + clen, suffix, slen) != 0)
        return 0;
    if (nlen == clen + slen) /* a 3.2 holder: "<C>-lock" */
        return !legacy_answered;
    if (name[clen + slen] != '-')
        return 0;
    name += clen + slen + 1;
    nlen -= clen + slen + 1;
    /* Only the exact shape: channel "a-lock-b" must not match "a". */
    return is_hex_id(name, nlen) && !answered_by(h, nh, name, nlen);
}

int pl__redis_reap_targets(const char *list, size_t list_len,
                           const char *channel, size_t channel_len,
                           const pl_redis_holder *answered, size_t nanswered,
                           long long **ids, size_t *n)
{
    size_t pos = 0, cap = 0, i;
    int legacy_answered = 0;
    *ids = NULL;
    *n = 0;
    for (i = 0; i < nanswered; i++)
        legacy_answered |= answered[i].legacy;
    while (pos < list_len) {
        const char *line = list + pos, *nl, *name, *idv;
        size_t len, nlen = 0, idlen = 0;
        nl = memchr(line, '\n', list_len - pos);
        len = nl ? (size_t)(nl - line) : list_len - pos;
        pos += len + 1;
        /* len is 0 for an empty line (nl == line): cppcheck 2.10 wrongly
           takes nl - line > 0. */
        /* cppcheck-suppress knownConditionTrueFalse */
        if (len && line[len - 1] == '\r')
            len--;
        name = field(line, len, "name=", &nlen);
        idv = field(line, len, "id=", &idlen);
        if (!name || !idv || idlen == 0 || idlen > 20 ||
            !unavailable(name, nlen, channel, channel_len, answered,
                         nanswered, legacy_answered))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            long long *grown = realloc(*ids, ncap * sizeof **ids);
            if (!grown) {
                free(*ids);
                *ids = NULL;
                *n = 0;
                return PL_ERR_NO_MEMORY;
            }
            *ids = grown;
            cap = ncap;
        }
        {
            char buf[24];
            memcpy(buf, idv, idlen);
            buf[idlen] = '\0';
            (*ids)[(*n)++] = strtoll(buf, NULL, 10);
        }
    }
    return PL_OK;
}

int pl__redis_holders_add(pl_redis_holder **v, size_t *n, size_t *cap,
                          int *nlegacy, const char *payload, size_t len)
{
    pl_redis_holder h;
    size_t i;
    int rc = pl__redis_parse_answer(payload, len, *nlegacy, &h);
    if (rc != PL_OK)
        return rc;
    for (i = 0; i < *n; i++)
        if (!h.legacy && strcmp((*v)[i].id, h.id) == 0) {
            /* Answered twice: counted once, the later record wins. */
            free((*v)[i].id);
            (*v)[i] = h;
            return PL_OK;
        }
    if (*n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 8;
        pl_redis_holder *grown = realloc(*v, grown_cap * sizeof *grown);
        if (!grown) {
            free(h.id);
            return PL_ERR_NO_MEMORY;
        }
        *v = grown;
        *cap = grown_cap;
    }
    *nlegacy += h.legacy;
    (*v)[(*n)++] = h;
    return PL_OK;
}
