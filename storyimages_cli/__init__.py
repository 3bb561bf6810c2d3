"""storyimages: the command line for people who operate the image API.

Dev tooling: it lives outside functions/, so it never enters the Lambda asset.
"""
