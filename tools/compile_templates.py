#!/usr/bin/env python3
"""Compile a templates folder into a package of Python modules, one per template, for freezing.

    tools/compile_templates.py TEMPLATES_DIR OUT_DIR [--package kiln_templates]

writes OUT_DIR/kiln_templates/__init__.py and OUT_DIR/kiln_templates/t_<name>.py (see
kiln.template.module_name), rewriting only modules whose code changed (so the firmware build
recompiles only those) and deleting modules of templates that are gone. A template that does not
compile stops everything with `templates/index.html:12: unclosed {% for %}` and exit status 1.
boards/manifest.py calls compile_folder() at firmware build time.
"""

import hashlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.path.join(ROOT, "modules", "kiln")


def _load(name, filename):
    # By file path: importing the `kiln` package on CPython would need the C module _kiln.
    spec = importlib.util.spec_from_file_location(name, os.path.join(KILN, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiler = _load("kiln_template_compiler", "template_compiler.py")
runtime = _load("kiln_template_runtime", "template.py")
TemplateSyntaxError = compiler.TemplateSyntaxError


def _write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True


def compile_folder(templates_dir, out_dir, package="kiln_templates"):
    """Compile every file under templates_dir (but .py/.mpy files) into out_dir/<package>/;
    return out_dir.

    Template names are paths relative to templates_dir with "/" separators, as render_template
    takes them; error messages name files as `<templates folder name>/<name>`."""
    templates_dir = os.path.abspath(templates_dir)
    if not os.path.isdir(templates_dir):
        raise TemplateSyntaxError("%s: no such templates folder" % templates_dir)
    label = os.path.basename(templates_dir)

    def loader(name):
        # The parents of a template, so that a chain compiles into one function; each one read
        # goes into the template's DIGEST.
        path = os.path.join(templates_dir, *name.split("/"))
        if not os.path.isfile(path):
            return None
        read.append(name)
        with open(path, encoding="utf-8") as f:
            return f.read(), "%s/%s" % (label, name)

    def digest(names):
        # What kiln.template computes from an app's folder to tell its file from the frozen one.
        h = hashlib.sha256()
        for name in names:
            with open(os.path.join(templates_dir, *name.split("/")), "rb") as f:
                h.update(f.read())
        return h.digest()

    modules = {}
    for root, dirs, files in os.walk(templates_dir):
        dirs.sort()
        for filename in sorted(files):
            if filename.startswith(".") or filename.endswith((".py", ".pyc", ".mpy")):
                continue
            path = os.path.join(root, filename)
            name = os.path.relpath(path, templates_dir).replace(os.sep, "/")
            module = runtime.module_name(name)
            if module in modules:
                raise TemplateSyntaxError("%s/%s: same module name %s as %s/%s; rename one"
                                          % (label, name, module, label, modules[module][0]))
            with open(path, encoding="utf-8") as f:
                source = f.read()
            read = [name]
            code = compiler.compile_source(source, "%s/%s" % (label, name), loader)
            # NAME tells a lookup of "index_html" from one of "index.html": both map to this
            # module. SOURCES are the files compiled into it (the template, then the parents it
            # inlines) and DIGEST their sha256: an app folder whose files give the same digest
            # holds this very template.
            code += "NAME = %r\nSOURCES = %r\nDIGEST = %r\n" % (name, tuple(read), digest(read))
            modules[module] = (name, code)
    pkg_dir = os.path.join(out_dir, package)
    os.makedirs(pkg_dir, exist_ok=True)
    # FOLDER names the app's templates folder (relative to the repository when inside it).
    folder = os.path.relpath(templates_dir, ROOT)
    if folder.startswith(".."):
        folder = templates_dir
    _write_if_changed(os.path.join(pkg_dir, "__init__.py"),
                      "# Templates of %s, compiled by Kiln at build time.\nFOLDER = %r\n" % (folder, folder))
    for module, (_name, code) in modules.items():
        _write_if_changed(os.path.join(pkg_dir, module + ".py"), code)
    for filename in os.listdir(pkg_dir):
        if filename.endswith(".py") and filename != "__init__.py" and filename[:-3] not in modules:
            os.remove(os.path.join(pkg_dir, filename))
    return out_dir


def main(argv):
    args = [a for a in argv if not a.startswith("--package")]
    package = "kiln_templates"
    for a in argv:
        if a.startswith("--package="):
            package = a.split("=", 1)[1]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        out = compile_folder(args[0], args[1], package)
    except TemplateSyntaxError as e:
        print(e, file=sys.stderr)
        return 1
    print("compiled %s -> %s" % (args[0], os.path.join(out, package)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
