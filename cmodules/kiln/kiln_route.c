// _kiln.route_match: kiln.routing.Router.match in C, on the structures the router builds when a
// route is registered (groups, index, loose, wild and the entry tuples; see the comments of
// modules/kiln/routing.py). The path is read as UTF-8 bytes: a literal prefix or suffix that
// matches the path's bytes ends on a character boundary, so byte offsets stand for the
// character indexes the Python twin (modules/_kiln_route.py) uses.
#include <string.h>
#include "py/runtime.h"
#include "py/objstr.h"
#include "py/parsenum.h"
#include "modkiln.h"

typedef struct {
    const byte *s; // the path's bytes
    size_t len;
    mp_obj_t path;
    mp_obj_t out; // the [entry, argument] list a match fills
} route_t;

// d.get(key) for a dict d and an int key; MP_OBJ_NULL when d is not a dict (MP_OBJ_NULL, None)
// or lacks key.
static mp_obj_t route_get(mp_obj_t d, mp_int_t key) {
    if (d == MP_OBJ_NULL || !mp_obj_is_dict_or_ordereddict(d)) {
        return MP_OBJ_NULL;
    }
    mp_map_elem_t *el = mp_map_lookup(mp_obj_dict_get_map(d), MP_OBJ_NEW_SMALL_INT(key), MP_MAP_LOOKUP);
    return el ? el->value : MP_OBJ_NULL;
}

// fun(arg), a method when self is not MP_OBJ_NULL; MP_OBJ_NULL when it raises `refused` (or a
// subclass): how a converter refuses a match (ValueError), and how MicroPython's re, which
// recurses per character, says a path is too long for the stack (RuntimeError).
static mp_obj_t route_call(mp_obj_t fun, mp_obj_t self, mp_obj_t arg, const mp_obj_type_t *refused) {
    mp_obj_t call[3] = { fun, self, arg };
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t value = mp_call_method_n_kw(1, 0, call);
        nlr_pop();
        return value;
    }
    if (!mp_obj_exception_match(MP_OBJ_FROM_PTR(nlr.ret_val), MP_OBJ_FROM_PTR(refused))) {
        nlr_jump(nlr.ret_val);
    }
    return MP_OBJ_NULL;
}

// regex.match(text): the match object, or MP_OBJ_NULL for none (also for a text too long).
static mp_obj_t route_regex(mp_obj_t regex, mp_obj_t text) {
    mp_obj_t dest[2];
    mp_load_method(regex, MP_QSTR_match, dest);
    mp_obj_t m = route_call(dest[0], dest[1], text, &mp_type_RuntimeError);
    return m == mp_const_none ? MP_OBJ_NULL : m;
}

// The arguments by name of a rule matched with its regex (f: its entry's items), each through
// its to_python, or MP_OBJ_NULL.
static mp_obj_t route_regex_args(route_t *r, mp_obj_t *f) {
    mp_obj_t m = route_regex(f[3], r->path);
    if (m == MP_OBJ_NULL) {
        return MP_OBJ_NULL;
    }
    size_t n;
    mp_obj_t *names;
    mp_obj_get_array(f[2], &n, &names);
    mp_obj_t args = mp_obj_new_dict(n);
    mp_obj_t group[3];
    mp_load_method(m, MP_QSTR_group, group);
    for (size_t i = 0; i < n; i++) {
        mp_obj_t *name;
        mp_obj_get_array_fixed_n(names[i], 2, &name);
        group[2] = MP_OBJ_NEW_SMALL_INT(i + 1);
        mp_obj_t value = mp_call_method_n_kw(1, 0, group);
        if (name[1] != mp_const_none) {
            value = route_call(name[1], MP_OBJ_NULL, value, &mp_type_ValueError);
            if (value == MP_OBJ_NULL) {
                return MP_OBJ_NULL;
            }
        }
        mp_obj_dict_store(args, name[0], value);
    }
    return args;
}

// The int of s[0:len], ASCII digits after an optional "-" (the rule's -?[0-9]+: no "+", "_",
// space or other digit int() would take), or MP_OBJ_NULL.
static mp_obj_t route_int(const byte *s, size_t len) {
    size_t i = *s == '-';
    if (i == len) {
        return MP_OBJ_NULL;
    }
    mp_uint_t value = 0;
    for (size_t k = i; k < len; k++) {
        unsigned d = s[k] - '0';
        if (d > 9) {
            return MP_OBJ_NULL;
        }
        value = value * 10 + d;
    }
    if (len - i > 9) {
        // beyond what a 32-bit small int surely holds: a big int, as int() makes
        return mp_parse_num_integer((const char *)s, len, 10, NULL);
    }
    return MP_OBJ_NEW_SMALL_INT(i ? -(mp_int_t)value : (mp_int_t)value);
}

// The argument s[start:end] of a rule with one argument through its conv (entry[1]), or
// MP_OBJ_NULL.
static mp_obj_t route_convert(route_t *r, mp_obj_t conv, size_t start, size_t end) {
    if (conv == MP_OBJ_FROM_PTR(&mp_type_int)) {
        return route_int(r->s + start, end - start); // digits read in place: no str of them
    }
    // the path is valid UTF-8 and start and end lie on character boundaries: no check, and no
    // search of the interned strings (mp_obj_new_str)
    mp_obj_t arg = mp_obj_new_str_copy(&mp_type_str, r->s + start, end - start);
    if (conv != MP_OBJ_FROM_PTR(&mp_type_str)) {
        mp_obj_t *c; // (compiled "^(?:regex)$", to_python)
        mp_obj_get_array_fixed_n(conv, 2, &c);
        if (route_regex(c[0], arg) == MP_OBJ_NULL) {
            return MP_OBJ_NULL;
        }
        if (c[1] != mp_const_none) {
            arg = route_call(c[1], MP_OBJ_NULL, arg, &mp_type_ValueError);
        }
    }
    return arg;
}

// Whether s[at:] starts with text.
static bool route_has(route_t *r, size_t at, mp_obj_t text, size_t *len) {
    const char *t = mp_obj_str_get_data(text, len);
    return at + *len <= r->len && memcmp(r->s + at, t, *len) == 0;
}

// The argument of entry f (its items) for the path, or MP_OBJ_NULL. first: the length of the
// path's "first/" (after its "/") when the bucket was found by that text's hash, which other
// first segments may share, else 0; start: where the text after "/first/" (after "/" for a rule
// whose first segment is not literal) begins. The bucket's slash count is the path's: between
// prefix and suffix lies one segment.
static mp_obj_t route_arg(route_t *r, mp_obj_t *f, size_t first, size_t start) {
    if (f[1] == mp_const_none) {
        return route_regex_args(r, f);
    }
    size_t len;
    if (first) {
        const char *p = mp_obj_str_get_data(f[5], &len);
        if (len <= first || memcmp(p + 1, r->s + 1, first) != 0) {
            return MP_OBJ_NULL;
        }
    }
    if (f[3] != mp_const_none) {
        if (!route_has(r, start, f[3], &len)) {
            return MP_OBJ_NULL;
        }
        start += len;
    }
    size_t end = r->len;
    if (f[4] != mp_const_none) {
        const char *suffix = mp_obj_str_get_data(f[4], &len);
        if (len > end || memcmp(r->s + end - len, suffix, len) != 0) {
            return MP_OBJ_NULL;
        }
        end -= len;
    }
    return end > start ? route_convert(r, f[1], start, end) : MP_OBJ_NULL;
}

// Whether entry e matches: out = [e, its argument].
static bool route_entry(route_t *r, mp_obj_t e, size_t first, size_t start) {
    mp_obj_t *f; // (methods, conv, argname, extra, suffix, pattern)
    mp_obj_get_array_fixed_n(e, 6, &f);
    mp_obj_t arg = route_arg(r, f, first, start);
    if (arg == MP_OBJ_NULL) {
        return false;
    }
    // out's items read now, not before: a converter may have resized it; a list, checked by
    // kiln_route_match (mp_obj_subscr would cost ~200 instructions more)
    mp_obj_get_array_fixed_n(r->out, 2, &f);
    f[0] = e;
    f[1] = arg;
    return true;
}

// The first entry of bucket (an entry, a list of them, or MP_OBJ_NULL) that matches.
static bool route_scan(route_t *r, mp_obj_t bucket, size_t first, size_t start) {
    if (bucket == MP_OBJ_NULL) {
        return false;
    }
    if (mp_obj_is_type(bucket, &mp_type_tuple)) {
        return route_entry(r, bucket, first, start);
    }
    for (size_t i = 0;; i++) {
        size_t n;
        mp_obj_t *entries;
        // read again for each entry: a converter may register routes, and the list move
        mp_obj_get_array(bucket, &n, &entries);
        if (i >= n) {
            return false;
        }
        if (route_entry(r, entries[i], first, start)) {
            return true;
        }
    }
}

// index[part(h)][h * 256 + n], else loose[h]: the rules of first-segment hash h, n slashes.
static mp_obj_t route_bucket(mp_obj_t part, mp_obj_t router, mp_int_t h, size_t n) {
    mp_obj_t b = route_get(part, h * 256 + n);
    return b != MP_OBJ_NULL ? b : route_get(mp_load_attr(router, MP_QSTR_loose), h);
}

// The rules of the path's first segment found by its hash, once there are too many for groups.
static bool route_hashed(route_t *r, mp_obj_t router, size_t n) {
    const byte *slash = memchr(r->s + 1, '/', r->len > 1 ? r->len - 1 : 0);
    if (slash == NULL) {
        return false;
    }
    size_t first = slash - r->s; // "first/": from after the path's "/" to this slash, included
    mp_int_t h = qstr_compute_hash(r->s + 1, first); // hash("first/"), as the router computed it
    mp_obj_t part = route_get(mp_load_attr(router, MP_QSTR_index), (h ^ (h >> 6) ^ (h >> 12)) & 63);
    return route_scan(r, route_bucket(part, router, h, n), first, first + 1);
}

// The first segments found by their text while there are few: ["/first/", hash, index part, ...].
static bool route_groups(route_t *r, mp_obj_t router, mp_obj_t groups, size_t n) {
    size_t len, glen;
    mp_obj_t *g;
    mp_obj_get_array(groups, &glen, &g);
    for (size_t i = 0; i + 2 < glen; i += 3) {
        if (route_has(r, 0, g[i], &len)) {
            return route_scan(r, route_bucket(g[i + 2], router, mp_obj_get_int(g[i + 1]), n), 0, len);
        }
    }
    return false;
}

static mp_obj_t kiln_route_match(mp_obj_t router, mp_obj_t path, mp_obj_t out) {
    if (!mp_obj_is_type(out, &mp_type_list)) {
        mp_raise_TypeError(NULL);
    }
    route_t r = { NULL, 0, path, out };
    r.s = (const byte *)mp_obj_str_get_data(path, &r.len);
    size_t n = 0;
    for (size_t i = 0; i < r.len; i++) {
        n += r.s[i] == '/';
    }
    if (n > 255) {
        n = 255; // no bucket has as many: a rule with a slash count has fewer
    }
    mp_obj_t groups = mp_load_attr(router, MP_QSTR_groups);
    if (groups == mp_const_none ? route_hashed(&r, router, n) : route_groups(&r, router, groups, n)) {
        return out;
    }
    // then the rules whose first segment holds an argument (first-segment hash -1)
    mp_obj_t wild = mp_load_attr(router, MP_QSTR_wild);
    if (wild != mp_const_none && route_scan(&r, route_bucket(wild, router, -1, n), 0, 1)) {
        return out;
    }
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_3(kiln_route_match_obj, kiln_route_match);
