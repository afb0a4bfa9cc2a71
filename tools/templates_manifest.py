# Manifest helper: compile one app's templates folder and freeze it as the package kiln_templates
# (kiln.template.render_template uses a frozen template when the app's folder has no file of that
# name or the very file it was built from). In a board's manifest.py:
#
#     include("$(BOARD_DIR)/../../tools/templates_manifest.py", folder="examples/blog/templates")
#
# `folder` is absolute or relative to the repository. boards/manifest.py includes this file for
# the folder in the environment variable KILN_TEMPLATES (the Makefile's templates section sets
# it); freeze one folder per firmware. Each template becomes a module under build/templates/
# (rewritten only when its code changes); a template that does not compile stops the build with
# `templates/index.html:12: unclosed {% for %}`.
import importlib.util
import os

options.defaults(folder=None)  # noqa: F821 - makemanifest provides options, package()
if options.folder:  # noqa: F821
    _spec = importlib.util.spec_from_file_location("compile_templates", "compile_templates.py")
    _tool = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_tool)
    _folder = os.path.abspath(os.path.join("..", options.folder))  # noqa: F821
    _out = os.path.abspath("../build/templates/" + os.path.basename(os.path.dirname(_folder)))
    package("kiln_templates", base_path=_tool.compile_folder(_folder, _out))  # noqa: F821
