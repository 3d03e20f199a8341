"""The demo stack's own services (sender, receiver), as they run inside the images.

Nothing here imports the CLI side of mafa: the images carry only this package and its
`services` extra.
"""
