"""First-party plugins, loaded through the same entry points as third-party ones.

* :mod:`hyperloom.plugins.nas`: NAS search spaces and the model builder (torch);
* :mod:`hyperloom.plugins.ray`: the ``ray`` executor;
* :mod:`hyperloom.plugins.nni`: adapters that run NNI's own tuners and assessors;
* :mod:`hyperloom.plugins.testing`: the conformance suites for plugin authors.

Nothing is imported from here: each plugin is loaded by name when used.
"""
