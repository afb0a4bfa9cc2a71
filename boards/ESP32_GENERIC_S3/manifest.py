include("../esp32_manifest.py")
