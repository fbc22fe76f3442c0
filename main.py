"""The phone build's entry module (`[tool.flet.app] module`; see build/README.md).

`flet build` looks for `<module>.py` at the root of the app path and runs it as `__main__`
on the device, with the app tree on the path. It starts the app exactly as `fieldapp app`
does; on a phone the data folder is Flet's app storage (FLET_APP_STORAGE_DATA).
"""

from fieldapp.paths import data_dir
from fieldapp.ui.app import run_app

if __name__ == "__main__":
    run_app(data_dir(), web=False)
