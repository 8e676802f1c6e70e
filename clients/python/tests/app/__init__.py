"""A Django app with a model whose ImageField the template tags are given."""
