# vm-images/: host images for the lab.
