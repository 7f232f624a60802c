"""Datasets for the kit. ``python -m cs231n.datasets.fetch`` puts CIFAR-10 in this folder;
``get_datasets.sh`` is a wrapper around it that works from any directory."""
