"""Packaging: metadata lives in setup.cfg; this file only ships the start-up hook.

``cleanup_trace.pth`` goes into the root of site-packages, where Python runs its one line
at every start; it does nothing unless PYTESTCLEANUP_RECORD is set (the way coverage.py
and pytest-cov activate in subprocesses).
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_FILE = "cleanup_trace.pth"


class BuildWithStartupHook(build_py):
    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        self.mkpath(self.build_lib)
        shutil.copyfile(os.path.join(here, PTH_FILE), os.path.join(self.build_lib, PTH_FILE))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH_FILE)]


setup(cmdclass={"build_py": BuildWithStartupHook})
