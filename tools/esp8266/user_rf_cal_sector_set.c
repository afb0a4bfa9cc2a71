// The SDK calls this to learn where the RF calibration data lives: the fifth sector from the
// end of the flash, whose size the boot ROM read from the image header.
#include <c_types.h>
#include <spi_flash.h>

uint32 user_rf_cal_sector_set(void) {
    extern char flashchip;
    SpiFlashChip *flash = (SpiFlashChip *)(&flashchip + 4);
    return (flash->chip_size >> 12) - 5;
}
