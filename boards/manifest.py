# Kiln, frozen into every board: each board's manifest.py includes this file.
metadata(description="Kiln: a small, fast web framework for MicroPython", version="0.1.0")

package("kiln", base_path="../modules")

# Templates compiled at build time: KILN_TEMPLATES (an environment variable; the Makefile's
# templates section sets it) names one app's templates folder (absolute, or relative to the
# repository). tools/compile_templates.py turns
# each template into a module under build/templates/ (errors stop the build with
# `templates/x.html:12: ...`), frozen here as the package kiln_templates, which
# kiln.template.render_template looks in before the filesystem.
import os  # noqa: E402

if os.environ.get("KILN_TEMPLATES"):
    import importlib.util  # noqa: E402

    _spec = importlib.util.spec_from_file_location("compile_templates", "../tools/compile_templates.py")
    _tool = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_tool)
    _folder = os.path.abspath(os.path.join("..", os.environ["KILN_TEMPLATES"]))
    _out = os.path.abspath("../build/templates/" + os.path.basename(os.path.dirname(_folder)))
    package("kiln_templates", base_path=_tool.compile_folder(_folder, _out))
