# A JSON CRUD API over an in-memory store: /api/items, /api/items/<int:id>.
from kiln import App, abort

app = App()
items = {}
next_id = [1]


def get_item(item_id):
    item = items.get(item_id)
    if item is None:
        abort(404, "no item %d" % item_id)
    return item


def validated(data):
    if not isinstance(data, dict):
        abort(400, "expected a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        abort(400, "'name' must be a non-empty string")
    price = data.get("price", 0)
    if not isinstance(price, (int, float)) or price < 0:
        abort(400, "'price' must be a number >= 0")
    return {"name": name, "price": price}


@app.get("/api/items")
def list_items(request):
    limit = request.args.get("limit", 100, type=int)
    return [items[k] for k in sorted(items)][:limit]


@app.post("/api/items")
def create_item(request):
    item = validated(request.json)
    item["id"] = next_id[0]
    next_id[0] += 1
    items[item["id"]] = item
    return item, 201, {"Location": app.url_for("read_item", item_id=item["id"])}


@app.get("/api/items/<int:item_id>")
def read_item(request, item_id):
    return get_item(item_id)


@app.put("/api/items/<int:item_id>")
def replace_item(request, item_id):
    get_item(item_id)
    item = validated(request.json)
    item["id"] = item_id
    items[item_id] = item
    return item


@app.patch("/api/items/<int:item_id>")
def update_item(request, item_id):
    item = get_item(item_id)
    changes = request.json
    if not isinstance(changes, dict):
        abort(400, "expected a JSON object")
    merged = dict(item)
    merged.update(changes)
    item = validated(merged)
    item["id"] = item_id
    items[item_id] = item
    return item


@app.delete("/api/items/<int:item_id>")
def delete_item(request, item_id):
    get_item(item_id)
    del items[item_id]
    return "", 204


@app.errorhandler(404)
def not_found(request):
    return {"error": "not found", "path": request.path}, 404


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
