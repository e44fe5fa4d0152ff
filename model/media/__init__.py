"""Media files: reading videos and images, frame clips, thumbnails, time stamps and previews."""
