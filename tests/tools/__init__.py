"""Developer tools run by nox (the demo, the bundles, the mutation report); tests import them too."""
