"""The AMI link: the only package that imports the asterisk-ami library."""
