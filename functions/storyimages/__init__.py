"""storyimages: illustrate every slide of a story, one Step Functions execution per story."""
