package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// filesystemType returns the name of the filesystem that holds dir, such as
// "ext4", "xfs", "btrfs", "tmpfs" or "overlay". It asks statfs(2), and for
// the name it looks the mount up in /proc/self/mountinfo, because ext2, ext3
// and ext4 share one statfs magic number.
func filesystemType(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	if name := mountType(dir); name != "" {
		return name, nil
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name, nil
	}
	return fmt.Sprintf("filesystem type %#x", st.Type), nil
}

// fsMagic names the statfs types of common filesystems (see statfs(2)).
var fsMagic = map[int64]string{
	0xef53:     "ext4",
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0x01021994: "tmpfs",
	0x794c7630: "overlay",
	0x2fc12fc1: "zfs",
	0xf2f52010: "f2fs",
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x65735546: "fuse",
	0x01021997: "9p",
	0x4d44:     "vfat",
	0x2011bab0: "exfat",
	0x5346544e: "ntfs",
	0x73717368: "squashfs",
	0x00c36400: "ceph",
}

// mountType returns the filesystem type of the mount that holds dir, from
// /proc/self/mountinfo, or "" when it cannot tell.
func mountType(dir string) string {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestType := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		mount := unescapeMount(fields[4])
		if !within(dir, mount) || len(mount) < len(best) {
			continue
		}
		best, bestType = mount, fields[sep+1]
	}
	return bestType
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return dir == "/" || path == dir || strings.HasPrefix(path, dir+"/")
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
