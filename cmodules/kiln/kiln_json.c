// A view's dict or list written as JSON, byte for byte as MicroPython's json.dumps writes it,
// faster: MicroPython prints a str for JSON one character at a time through mp_printf (~250
// instructions a character), where a str with nothing to escape is written here in one piece.
// Dicts with str keys, lists and tuples are walked here so that their strs take that path; any
// other value (and a str that needs escapes) is printed by MicroPython itself.
#include "py/runtime.h"
#include "py/objstr.h"
#include "py/stackctrl.h"
#include "modkiln.h"

static void json_str(const mp_print_ext_t *print, mp_obj_t s) {
    size_t len;
    const byte *data = (const byte *)mp_obj_str_get_data(s, &len);
    for (size_t i = 0; i < len; i++) {
        if (data[i] < 32 || data[i] == '"' || data[i] == '\\') {
            mp_str_print_json(&print->base, data, len);
            return;
        }
    }
    print->base.print_strn(print->base.data, "\"", 1);
    print->base.print_strn(print->base.data, (const char *)data, len);
    print->base.print_strn(print->base.data, "\"", 1);
}

// Whether every key of a dict is a str (else MicroPython prints the dict: it quotes the others).
static bool json_str_keys(mp_map_t *map) {
    for (size_t i = 0; i < map->alloc; i++) {
        if (mp_map_slot_is_filled(map, i) && !mp_obj_is_str(map->table[i].key)) {
            return false;
        }
    }
    return true;
}

void kiln_json_print(const mp_print_ext_t *print, mp_obj_t o) {
    MP_STACK_CHECK();
    const mp_print_t *p = &print->base;
    if (mp_obj_is_str(o)) {
        json_str(print, o);
        return;
    }
    mp_map_t *map = mp_obj_is_dict_or_ordereddict(o) ? mp_obj_dict_get_map(o) : NULL;
    if (map ? !json_str_keys(map) : !mp_obj_is_type(o, &mp_type_list) && !mp_obj_is_type(o, &mp_type_tuple)) {
        mp_obj_print_helper(p, o, PRINT_JSON);
        return;
    }
    // a dict's slots in order, as dict_print walks them; the container read again at each item:
    // a value printed by its own __repr__ may change it
    mp_print_str(p, map ? "{" : "[");
    bool first = true;
    for (size_t i = 0;; i++) {
        mp_obj_t item;
        if (map) {
            if (i >= map->alloc) {
                break;
            }
            if (!mp_map_slot_is_filled(map, i)) {
                continue;
            }
            item = map->table[i].value;
        } else {
            size_t n;
            mp_obj_t *items;
            mp_obj_get_array(o, &n, &items);
            if (i >= n) {
                break;
            }
            item = items[i];
        }
        if (!first) {
            mp_print_str(p, print->item_separator);
        }
        first = false;
        if (map) {
            json_str(print, map->table[i].key);
            mp_print_str(p, print->key_separator);
        }
        kiln_json_print(print, item);
    }
    mp_print_str(p, map ? "}" : "]");
}
