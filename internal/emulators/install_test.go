package emulators

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFreshInstall installs both tools into an empty cache, the path every
// new machine and CI runner takes once, and checks what lands there. It
// reuses npm's and Go's own download caches, so it takes seconds.
func TestFreshInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("installs tools")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache := t.TempDir()

	dir, err := InstallDynamoDBLocal(ctx, cache)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "DynamoDBLocal.jar"))
	assert.DirExists(t, filepath.Join(dir, "DynamoDBLocal_lib"))

	rie, err := InstallRIE(ctx, cache)
	require.NoError(t, err)
	st, err := os.Stat(rie)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&0o111, "the emulator binary is executable")

	again, err := InstallDynamoDBLocal(ctx, cache)
	require.NoError(t, err)
	assert.Equal(t, dir, again, "a second install reuses the first")
}

func TestInstallReportsMissingPrograms(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := InstallDynamoDBLocal(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, "npm")
	_, err = InstallRIE(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, "go")
}
