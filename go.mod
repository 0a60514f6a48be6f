module github.com/gokeeper/gokeeper

go 1.26
