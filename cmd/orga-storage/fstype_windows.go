package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

// filesystemType returns the name of the filesystem that holds dir, such as
// "ntfs", "refs", "fat32" or "exfat", in lower case as on the other systems.
func filesystemType(dir string) (string, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return "", err
	}
	var volume, name [windows.MAX_PATH + 1]uint16
	if err := windows.GetVolumePathName(p, &volume[0], uint32(len(volume))); err != nil {
		return "", fmt.Errorf("GetVolumePathName %s: %w", dir, err)
	}
	if err := windows.GetVolumeInformation(&volume[0], nil, 0, nil, nil, nil, &name[0], uint32(len(name))); err != nil {
		return "", fmt.Errorf("GetVolumeInformation %s: %w", windows.UTF16ToString(volume[:]), err)
	}
	return strings.ToLower(windows.UTF16ToString(name[:])), nil
}
